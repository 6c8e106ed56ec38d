import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import { SourceMap } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { executedFunctions, hintEagerCompile } from "../CompileHints.mjs"

// Every kind of function the hints meet: what may be wrapped, and what must stay as it is.
const source = [
  "export const arrow = (x) => x + 1",
  "export const chain = (a) => (b) => a + b",
  "export const object = { expression: function (x) { return x * 2 }, method(x) { return x * 3 }, get value() { return 4 } }",
  "export function declaration(x) { return x - 1 }",
  "export class Box { field = () => 5; run() { return 6 } }",
  "export const named = function inner() { return typeof inner }",
  "export const async = async () => 7",
  "export const notRun = () => 8",
  "let last",
  "last = () => 9",
  "export const run = () => last();",
  "() => 10"
].join("\n")

/** Where each function of `source` starts, as V8's coverage reports it (acorn's node start). */
const startsOf = (code: string, needles: ReadonlyArray<string>) =>
  new Set(
    needles.map((needle) => {
      const at = code.indexOf(needle)
      assert.isAtLeast(at, 0, needle)
      return at
    })
  )

const ran = [
  "(x) => x + 1",
  "(a) => (b)",
  "(b) => a + b",
  "function (x) { return x * 2 }",
  "(x) { return x * 3 }",
  "() { return 4 }",
  "function declaration",
  "() => 5",
  "() { return 6 }",
  "function inner",
  "async () => 7",
  "() => 9",
  "() => last()",
  "() => 10"
]

const importText = async (code: string) =>
  import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)

describe("CompileHints.hintEagerCompile", () => {
  it("wraps the function and arrow expressions that ran, and nothing else", () => {
    const hinted = hintEagerCompile(source, startsOf(source, ran), "sample.mjs")
    assert.strictEqual(
      hinted.code,
      [
        "export const arrow = ((x) => x + 1)",
        "export const chain = ((a) => ((b) => a + b))",
        "export const object = { expression: (function (x) { return x * 2 }), method(x) { return x * 3 }, get value() { return 4 } }",
        "export function declaration(x) { return x - 1 }",
        "export class Box { field = (() => 5); run() { return 6 } }",
        "export const named = (function inner() { return typeof inner })",
        "export const async = (async () => 7)",
        "export const notRun = () => 8",
        "let last",
        "last = (() => 9)",
        "export const run = (() => last());",
        // At the start of a statement an opening parenthesis could continue the line before it.
        "() => 10"
      ].join("\n")
    )
    assert.strictEqual(hinted.wrapped, 9)
  })

  it("leaves every value the module exports as it was", async () => {
    const plain = await importText(source)
    const hinted = await importText(hintEagerCompile(source, startsOf(source, ran), "sample.mjs").code)
    assert.strictEqual(hinted.arrow(1), plain.arrow(1))
    assert.strictEqual(hinted.chain(1)(2), plain.chain(1)(2))
    assert.strictEqual(hinted.object.expression(2), plain.object.expression(2))
    assert.strictEqual(hinted.object.method(2), plain.object.method(2))
    assert.strictEqual(hinted.object.value, plain.object.value)
    assert.strictEqual(new hinted.Box().field(), new plain.Box().field())
    assert.strictEqual(hinted.named(), plain.named())
    // A wrapped arrow keeps the name its binding gives it.
    assert.strictEqual(hinted.arrow.name, "arrow")
    assert.strictEqual(await hinted.async(), await plain.async())
    assert.strictEqual(hinted.run(), plain.run())
  })

  it("maps every name and number back to the same characters of the original", () => {
    const hinted = hintEagerCompile(source, startsOf(source, ran), "sample.mjs")
    const map = new SourceMap(JSON.parse(hinted.map.toString()))
    const originalLines = source.split("\n")
    let checked = 0
    hinted.code.split("\n").forEach((line, lineNumber) => {
      for (let column = 0; column < line.length; column++) {
        // Parentheses were inserted; letters and digits only moved.
        if (!/[A-Za-z0-9]/.test(line[column] ?? "")) continue
        const entry = map.findEntry(lineNumber, column)
        assert.isTrue("originalLine" in entry, `line ${lineNumber + 1}, column ${column + 1} has no mapping`)
        if (!("originalLine" in entry)) continue
        const original = originalLines[entry.originalLine] ?? ""
        // The rest of the name or number from here, in both: a shifted column would read another.
        const rest = (text: string, at: number) => /^[A-Za-z0-9]*/.exec(text.slice(at))?.[0]
        assert.strictEqual(
          rest(original, entry.originalColumn),
          rest(line, column),
          `line ${lineNumber + 1}, column ${column + 1}`
        )
        checked++
      }
    })
    assert.strictEqual(checked, source.replace(/[^A-Za-z0-9]/g, "").length)
  })

  // The premise: V8 compiles a wrapped function with its module, so Node's compile cache can keep it. A
  // wrapped function expression, on every Node line; a wrapped arrow, from V8 13 (Node 24) on. Node 20
  // and 22 compile wrapped arrows when first called, as before: the hints change nothing there.
  const lazilyCompiled = (kind: "function" | "arrow", hinted: boolean) => {
    const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-hints-"))
    try {
      const functions = Array.from({ length: 50 }, (_, i) =>
        kind === "arrow"
          ? `export const f${i} = (x) => x + ${i}`
          : `export const f${i} = function (x) { return x + ${i} }`
      )
      const calls = `\nfor (const f of [${functions.map((_, i) => `f${i}`).join(", ")}]) f(1)\n`
      const plain = functions.join("\n") + calls
      const starts = new Set(
        functions.map((line) => plain.indexOf(line) + line.indexOf(kind === "arrow" ? "(x)" : "function"))
      )
      const file = Path.join(directory, "sample.mjs")
      const log = Path.join(directory, "events.log")
      Fs.writeFileSync(file, hinted ? hintEagerCompile(plain, starts, "sample.mjs").code : plain)
      execFileSync(process.execPath, [
        "--log-function-events",
        `--logfile=${log}`,
        "--no-logfile-per-isolate",
        file
      ])
      const events = Fs.readFileSync(log, "utf8").split("\n")
      // The script's id, from its details line: Node's own modules compile lazily too.
      const id = events
        .find((event) => event.startsWith("script-details,") && event.includes(file))
        ?.split(",")[1]
      assert.isDefined(id, "no script details for the sample")
      return events.filter((event) => event.startsWith(`function,parse-function,${id},`)).length
    } finally {
      Fs.rmSync(directory, { recursive: true, force: true })
    }
  }
  const v8Major = Number(process.versions.v8.split(".")[0])

  it("lets V8 compile wrapped function expressions with their module", () => {
    assert.strictEqual(lazilyCompiled("function", false), 50)
    assert.strictEqual(lazilyCompiled("function", true), 0)
  })

  it(`lets V8 ${v8Major >= 13 ? "" : "not yet "}compile wrapped arrows with their module (V8 ${process.versions.v8})`, () => {
    assert.strictEqual(lazilyCompiled("arrow", false), 50)
    assert.strictEqual(lazilyCompiled("arrow", true), v8Major >= 13 ? 0 : 50)
  })
})

describe("CompileHints.executedFunctions", () => {
  it("reads which functions of the built CLI ran in a get from the sandbox", () => {
    const dist = fileURLToPath(new URL("../dist", import.meta.url))
    const executed = executedFunctions(dist, ["conversations", "get", "agent123", "convo456", "--sandbox"])
    const program = [...executed.keys()].find((file) => /^chunks\/Main-.*\.mjs$/.test(file))
    assert.isDefined(program)
    assert.isAtLeast(executed.get(program ?? "")?.size ?? 0, 100)
    assert.isTrue(executed.has("convocore.mjs"))
  })
})
