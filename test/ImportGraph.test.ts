/**
 * The architecture, read from the import graph of `src/` (issue 18, items 3 and 4): no import cycles; the core
 * (`src/*.ts` but the entry files, and `src/internal/`) imports no adapter, no driver and nothing of HTTP at
 * runtime; the HTTP edge imports no adapter and no driver; an adapter folder does not import the edge; and what
 * the driver-free entries load never reaches a driver. Each violation is listed as `file -> import`.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import ts from "typescript"

const root = fileURLToPath(new URL("../", import.meta.url))

interface Edge {
  /** The importing module, e.g. `src/http/Failures.ts`. */
  readonly from: string
  /** The specifier as written, e.g. `../UserError.js` or `ioredis`. */
  readonly specifier: string
  /** The imported `src` module (`src/UserError.ts`), or the package specifier. */
  readonly to: string
  /** `import type` / `export type`: erased from the emitted JavaScript. */
  readonly typeOnly: boolean
}

const sources = (dir: string): Array<string> =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

// `./X.js` is the emitted name of `./X.ts` (NodeNext resolution).
const resolve = (from: string, specifier: string): string => {
  if (!specifier.startsWith(".")) return specifier
  return relative(root, join(root, dirname(from), specifier)).replace(/\.js$/, ".ts")
}

/** The imports, re-exports and dynamic imports of one module, as the TypeScript parser reads them. */
const edgesOf = (file: string): Array<Edge> => {
  const text = readFileSync(join(root, file), "utf8")
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const edges: Array<Edge> = []
  const add = (specifier: string, typeOnly: boolean) =>
    edges.push({ from: file, specifier, to: resolve(file, specifier), typeOnly })
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.importClause?.isTypeOnly === true)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly)
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      add(node.arguments[0].text, false)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      // `typeof import("x")` in a type position.
      const literal = node.argument.literal
      if (ts.isStringLiteral(literal)) add(literal.text, true)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return edges
}

const files = sources("src").sort()
const edges = files.flatMap(edgesOf)
const show = (edge: Edge) => `${edge.from} -> ${edge.specifier}${edge.typeOnly ? " (type only)" : ""}`

const entries = new Set(
  ["index.ts", "http.ts", "sql.ts", "redis.ts", "pg.ts", "otel.ts", "testing.ts"].map((f) => `src/${f}`)
)
const isCore = (file: string) =>
  (/^src\/[^/]+\.ts$/.test(file) && !entries.has(file)) || file.startsWith("src/internal/")
const isAdapter = (file: string) => /^src\/(sql|redis|pg)\//.test(file)
const isHttp = (file: string) => file.startsWith("src/http/")
/** The administration CLI (the package's `bin`): it may import anything; nothing imports it. */
const isCli = (file: string) => file.startsWith("src/cli/")

const isPackage = (to: string, names: ReadonlyArray<string>) =>
  names.some((name) => to === name || to.startsWith(`${name}/`))
const isSqlPackage = (to: string) => /^@effect\/sql(-[^/]+)?(\/|$)/.test(to)
/** OpenTelemetry: `@effect/opentelemetry` and the `@opentelemetry/*` SDK, exporters and API. */
const isOtel = (to: string) => /^@(effect\/opentelemetry|opentelemetry\/[^/]+)(\/|$)/.test(to)
const isPlatform = (to: string) => /^@effect\/platform(-[^/]+)?(\/|$)/.test(to)
/** The driver packages: what an app without that storage must never load. */
const isDriver = (to: string) =>
  isPackage(to, ["ioredis", "pg"]) || /^@effect\/sql-(pg|sqlite-[^/]+|mysql2|mssql|libsql|d1)(\/|$)/.test(to)

/** One cycle through each strongly connected component of the graph of `src` modules (Tarjan). */
const cycles = (nodes: ReadonlyArray<string>, next: (node: string) => ReadonlyArray<string>) => {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const components: Array<Array<string>> = []
  const connect = (node: string) => {
    index.set(node, index.size)
    low.set(node, index.get(node)!)
    stack.push(node)
    onStack.add(node)
    for (const to of next(node)) {
      if (!index.has(to)) {
        connect(to)
        low.set(node, Math.min(low.get(node)!, low.get(to)!))
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!))
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: Array<string> = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        component.push(member)
      } while (member !== node)
      if (component.length > 1 || next(node).includes(node)) components.push(component)
    }
  }
  for (const node of nodes) if (!index.has(node)) connect(node)
  // A shortest way back to the component's first module, found breadth-first inside the component.
  return components.map((component) => {
    const members = new Set(component)
    const start = [...component].sort()[0]!
    const previous = new Map<string, string>()
    const queue = [start]
    while (queue.length > 0) {
      const node = queue.shift()!
      for (const to of next(node)) {
        if (!members.has(to)) continue
        if (to === start) {
          const path = [start]
          for (let at: string | undefined = node; at !== undefined && at !== start; at = previous.get(at)) {
            path.splice(1, 0, at)
          }
          return [...path, start].join(" -> ")
        }
        if (!previous.has(to)) {
          previous.set(to, node)
          queue.push(to)
        }
      }
    }
    return component.join(" -> ")
  })
}

const report = (rule: string, violations: ReadonlyArray<string>) => {
  if (violations.length > 0) console.error(`${rule}:\n${violations.map((line) => `  ${line}`).join("\n")}`)
  assert.deepStrictEqual(violations, [], rule)
}

describe("the import graph of src/", () => {
  it("is read: every module, its imports and re-exports", () => {
    assert.isAbove(files.length, 40)
    assert.isTrue(edges.some((edge) => edge.from === "src/index.ts" && edge.to === "src/UserManager.ts"))
    assert.isTrue(edges.some((edge) => edge.from === "src/redis/Redis.ts" && edge.to === "ioredis"))
    for (const edge of edges) {
      if (edge.specifier.startsWith(".")) assert.include(files, edge.to, `${show(edge)} resolves to a src module`)
    }
  })

  it("has no import cycle among src modules (type-only imports included)", () => {
    const internal = new Map<string, Array<string>>()
    for (const edge of edges) {
      if (edge.specifier.startsWith(".")) internal.set(edge.from, [...(internal.get(edge.from) ?? []), edge.to])
    }
    report(
      "import cycles",
      cycles(files, (file) => internal.get(file) ?? [])
    )
  })

  it("core modules import no adapter, no HTTP module, no SQL client or driver, and @effect/platform for types only", () => {
    report(
      "core imports",
      edges
        .filter((edge) => isCore(edge.from))
        .filter(
          (edge) =>
            /^src\/(http|sql|redis|pg)\//.test(edge.to) ||
            isSqlPackage(edge.to) ||
            isDriver(edge.to) ||
            (isPlatform(edge.to) && !edge.typeOnly)
        )
        .map(show)
    )
  })

  it("only src/otel/ imports OpenTelemetry, and nothing outside it imports src/otel/ (effect-users/otel is optional)", () => {
    assert.isTrue(edges.some((edge) => edge.from.startsWith("src/otel/") && isOtel(edge.to)))
    report(
      "OpenTelemetry imports",
      edges
        .filter((edge) => !edge.from.startsWith("src/otel/") && edge.from !== "src/otel.ts")
        .filter((edge) => isOtel(edge.to) || edge.to.startsWith("src/otel/") || edge.to === "src/otel.ts")
        .map(show)
    )
  })

  it("the HTTP edge imports no adapter and no SQL client or driver", () => {
    report(
      "HTTP imports",
      edges
        .filter((edge) => isHttp(edge.from))
        .filter((edge) => isAdapter(edge.to) || isSqlPackage(edge.to) || isDriver(edge.to))
        .map(show)
    )
  })

  it("an adapter folder does not import the HTTP edge", () => {
    report(
      "adapter imports",
      edges
        .filter((edge) => isAdapter(edge.from))
        .filter((edge) => isHttp(edge.to))
        .map(show)
    )
  })

  it("nothing outside src/cli/ imports the CLI (it is the package's bin, no entry's module)", () => {
    assert.isTrue(edges.some((edge) => isCli(edge.from) && isAdapter(edge.to)))
    report(
      "CLI imports",
      edges
        .filter((edge) => !isCli(edge.from))
        .filter((edge) => isCli(edge.to))
        .map(show)
    )
  })

  it("what the root, http, sql and testing entries load at runtime reaches no driver (ioredis, pg, SQL clients)", () => {
    const runtime = new Map<string, Array<Edge>>()
    for (const edge of edges) if (!edge.typeOnly) runtime.set(edge.from, [...(runtime.get(edge.from) ?? []), edge])
    const violations = new Set<string>()
    for (const entry of ["src/index.ts", "src/http.ts", "src/sql.ts", "src/testing.ts"]) {
      const seen = new Set([entry])
      const queue = [entry]
      while (queue.length > 0) {
        for (const edge of runtime.get(queue.shift()!) ?? []) {
          if (isDriver(edge.to)) violations.add(`${entry}: ${show(edge)}`)
          if (edge.to.startsWith("src/") && !seen.has(edge.to)) {
            seen.add(edge.to)
            queue.push(edge.to)
          }
        }
      }
    }
    report("drivers reached from the driver-free entries", [...violations])
  })
})
