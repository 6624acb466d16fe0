import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"

const root = new URL("../", import.meta.url)

describe("README quickstart", () => {
  it("is examples/quickstart.ts, word for word", () => {
    const readme = readFileSync(new URL("README.md", root), "utf8")
    const example = readFileSync(new URL("examples/quickstart.ts", root), "utf8")
    const block = /## Quickstart[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    assert.strictEqual(block, example)
  })

  it("runs as written with tsx", () => {
    const output = execFileSync("npx", ["tsx", "examples/quickstart.ts"], { cwd: root, encoding: "utf8" })
    assert.include(output, "has registered.")
    assert.include(output, "logged in")
    assert.notInclude(output, "not logged in")
  })
})
