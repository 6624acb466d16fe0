/**
 * Vitest setup file: teaches chai's deep equality (`assert.deepStrictEqual`, `assert.deepEqual`, ...) the two
 * Effect values it cannot see into. An `Option`'s tag lives on its prototype and a `None` has no own keys, so
 * chai falls back to comparing their iterators and finds `None` equal to any `Some`; a `Redacted` keeps its value
 * in a WeakMap, so chai finds any two equal. Everything else keeps chai's rules.
 */
import { Option, Redacted } from "effect"
import { chai } from "vitest"

const comparator = (left: unknown, right: unknown): boolean | null => {
  if (Option.isOption(left) || Option.isOption(right)) {
    return Option.isOption(left) && Option.isOption(right) && left._tag === right._tag ? null : false
  }
  if (Redacted.isRedacted(left) || Redacted.isRedacted(right)) {
    return Redacted.isRedacted(left) && Redacted.isRedacted(right) && eql(Redacted.value(left), Redacted.value(right))
  }
  return null
}

const eql = (left: unknown, right: unknown): boolean => chai.util.eql(left, right, { comparator })

chai.config.deepEqual = eql
