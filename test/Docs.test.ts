/**
 * The documentation's code: every ```ts block of README.md and docs/*.md compiles with the repository's settings and
 * the package's path aliases (one TypeScript program for all of them); a block marked ```ts fragment is deliberately
 * partial and must NOT compile alone (else drop the marker); a block after `<!-- file: path -->` is an excerpt of
 * that file, found in it word for word (the file itself is type-checked with the project). Every relative link of
 * these pages leads to a file of the repository, and its `#anchor` to a heading of that page.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join, normalize } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import ts from "typescript"

const root = fileURLToPath(new URL("../", import.meta.url))

/** A code block: the page and line of its opening fence, its info string and its code. */
interface Block {
  readonly page: string
  readonly line: number
  readonly info: string
  readonly code: string
  /** The file it is an excerpt of (`<!-- file: path -->` before it). */
  readonly file: string | undefined
}

/** The fenced code blocks of a Markdown text. */
const blocksOf = (page: string, text: string): Array<Block> => {
  const lines = text.split("\n")
  const blocks: Array<Block> = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)(.*)$/.exec(lines[i]!)
    if (open === null || open[1] === "") continue
    const end = lines.findIndex((line, j) => j > i && line.startsWith("```"))
    const previous = lines
      .slice(0, i)
      .filter((line) => line.trim() !== "")
      .at(-1)
    const file = /^<!-- file: (\S+) -->$/.exec(previous?.trim() ?? "")?.[1]
    blocks.push({
      page,
      line: i + 1,
      info: `${open[1]}${open[2]}`.trim(),
      code: `${lines.slice(i + 1, end).join("\n")}\n`,
      file
    })
    i = end
  }
  return blocks
}

const pages = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`)
]
const blocks = pages.flatMap((page) => blocksOf(page, readFileSync(join(root, page), "utf8")))
const isTs = (block: Block) => /^(ts|typescript)\b/.test(block.info)
const isFragment = (block: Block) => /^(ts|typescript)\s+fragment\b/.test(block.info)

/** A block that does not compile and is not marked: the check must report it. */
const broken: Block = {
  page: "(the check's own)",
  line: 1,
  info: "ts",
  code: 'const n: number = "one"\n',
  file: undefined
}

/** Compiles blocks as modules beside the sources (so packages and `effect-users/*` resolve), in one program. */
const compile = (compiled: ReadonlyArray<Block>) => {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, "tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
      }
    }
  )!
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    // Each block is a module of its own; a snippet may declare what it does not use.
    moduleDetection: ts.ModuleDetectionKind.Force,
    noUnusedLocals: false,
    noUnusedParameters: false
  }
  const virtual = new Map(compiled.map((block, i) => [join(root, "docs", ".snippets", `block${i}.ts`), block]))
  const host = ts.createCompilerHost(options)
  const { fileExists, getSourceFile, readFile } = host
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name)
  host.readFile = (name) => virtual.get(name)?.code ?? readFile.call(host, name)
  host.getSourceFile = (name, language, ...rest) => {
    const block = virtual.get(name)
    return block === undefined
      ? getSourceFile.call(host, name, language, ...rest)
      : ts.createSourceFile(name, block.code, language, true)
  }
  const program = ts.createProgram([...virtual.keys()], options, host)
  const errors = new Map<Block, Array<string>>(compiled.map((block) => [block, []]))
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const block = diagnostic.file === undefined ? undefined : virtual.get(diagnostic.file.fileName)
    if (block === undefined) continue
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
    errors.get(block)!.push(`line ${line + 1}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ")}`)
  }
  return errors
}

describe("the documentation's code blocks", () => {
  it("every ts block of README.md and docs/ compiles; every fragment is marked and does not", () => {
    const compiled = [...blocks.filter((block) => isTs(block) && block.file === undefined), broken]
    const errors = compile(compiled)
    // The check itself: an unmarked block that does not compile is reported.
    assert.isNotEmpty(errors.get(broken), "the broken block compiled: the check is not checking")
    const failures = compiled
      .filter((block) => block !== broken)
      .flatMap((block) => {
        const found = errors.get(block)!
        const where = `${block.page}:${block.line}`
        if (isFragment(block)) return found.length > 0 ? [] : [`${where}: marked fragment, yet it compiles`]
        return found.map((error) => `${where}: ${error}`)
      })
    assert.deepStrictEqual(failures, [])
    assert.isAbove(compiled.length, 20)
  }, 300_000)

  it("every excerpt (`<!-- file: path -->`) is in its file, word for word, and the file is type-checked", () => {
    const excerpts = blocks.filter((block) => block.file !== undefined)
    assert.isNotEmpty(excerpts)
    for (const block of excerpts) {
      const where = `${block.page}:${block.line}`
      assert.match(block.file!, /^(examples|src|test)\//, `${where}: ${block.file} is outside tsconfig.json's include`)
      assert.include(readFileSync(join(root, block.file!), "utf8"), block.code, `${where} is not in ${block.file}`)
    }
  })

  it("finds blocks, their markers and the file they quote", () => {
    const found = blocksOf(
      "page.md",
      "text\n\n```ts fragment\nfoo\n```\n\n<!-- file: examples/a.ts -->\n```ts\nbar\nbaz\n```\n```sh\nnpm test\n```\n"
    )
    assert.deepStrictEqual(found, [
      { page: "page.md", line: 3, info: "ts fragment", code: "foo\n", file: undefined },
      { page: "page.md", line: 8, info: "ts", code: "bar\nbaz\n", file: "examples/a.ts" },
      { page: "page.md", line: 12, info: "sh", code: "npm test\n", file: undefined }
    ])
  })
})

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- ]/gu, "")
    .replace(/ /g, "-")

/** A Markdown text without its fenced code blocks. */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, "")

const anchorsOf = (text: string) =>
  new Set(
    prose(text)
      .split("\n")
      .flatMap((line) => {
        const heading = /^#+ (.*)$/.exec(line)
        return heading === null ? [] : [anchorOf(heading[1]!)]
      })
  )

/** The broken relative links of a page: `page: href (why)`; `read` gives a repository file's text, or undefined. */
const brokenLinks = (page: string, text: string, read: (path: string) => string | undefined): Array<string> =>
  Array.from(prose(text).matchAll(/\]\(([^)\s]+)\)/g), (match) => match[1]!).flatMap((href) => {
    if (/^[a-z]+:/i.test(href)) return []
    const [path = "", anchor] = href.split("#")
    const target = path === "" ? page : normalize(join(dirname(page), path))
    const content = read(target)
    if (content === undefined) return [`${page}: ${href} (no such file)`]
    if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(content).has(anchor)) {
      return [`${page}: ${href} (no such heading)`]
    }
    return []
  })

const readRepo = (path: string) => (existsSync(join(root, path)) ? readFileSync(join(root, path), "utf8") : undefined)

describe("the links between the pages", () => {
  it("every relative link of README.md and docs/ leads to a file, and its anchor to a heading", () => {
    const failures = pages.flatMap((page) => brokenLinks(page, readFileSync(join(root, page), "utf8"), readRepo))
    assert.deepStrictEqual(failures, [])
  })

  it("reports a missing file and a missing heading, not code blocks or other sites", () => {
    const files: Record<string, string> = { "docs/a.md": "# A page\n\n## The `Users` layer: set up\n" }
    const text = [
      "[ok](a.md) [ok](a.md#a-page) [ok](a.md#the-users-layer-set-up) [ok](../README.md) [ok](https://x.org/y)",
      "[bad](b.md) [bad](a.md#nowhere)",
      "```md\n[in code](c.md)\n```"
    ].join("\n")
    const read = (path: string) => (path === "README.md" ? "" : files[path])
    assert.deepStrictEqual(brokenLinks("docs/page.md", text, read), [
      "docs/page.md: b.md (no such file)",
      "docs/page.md: a.md#nowhere (no such heading)"
    ])
  })
})
