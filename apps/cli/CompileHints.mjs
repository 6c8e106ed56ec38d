/**
 * Compile hints from a profile, for Node's compile cache (src/CompileCache.ts).
 *
 * Node's compile cache keeps the code V8 made when it compiled a module: its top-level code, and the
 * functions V8 chose to compile at once. Every other function is compiled the first time it runs, on
 * every start, cache or not: a `get` compiles some 2,600 functions that way. V8 compiles a function at
 * once when its expression is wrapped in parentheses (its "possibly invoked function expression"
 * heuristic), so the cache then keeps it too: a function expression on every Node line, an arrow from
 * V8 13 (Node 24) on. The compile cache itself exists from Node 22.8, so the hints pay on Node 24 and
 * later; on Node 20 and 22 they change little (test/CompileHints.test.ts checks the premise on the Node
 * it runs on).
 *
 * `executedFunctions` runs the built CLI once with V8's coverage on and reads which functions ran;
 * `hintEagerCompile` wraps those of them that are function or arrow expressions in parentheses (a
 * declaration, a method or an accessor cannot be wrapped, and stays lazy) and returns the edit's source
 * map, which build.mjs composes with esbuild's. Nothing else changes: the wrapped expression is the same
 * value. Measured in bench/README.md, CLI section.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Acorn from "acorn"
import * as AcornWalk from "acorn-walk"
import MagicString from "magic-string"

/**
 * The start offsets of the functions that ran while `args` ran the CLI built in `directory`, per file
 * (a path relative to `directory`). The run must succeed: a build whose CLI cannot run fails here.
 */
export const executedFunctions = (directory, args) => {
  const coverage = mkdtempSync(Path.join(Os.tmpdir(), "convocore-coverage-"))
  try {
    execFileSync(process.execPath, [Path.join(directory, "convocore.mjs"), ...args], {
      // The same run whatever the builder's environment holds (keys, regions, telemetry endpoints).
      env: { PATH: process.env.PATH ?? "", NODE_V8_COVERAGE: coverage },
      stdio: ["ignore", "ignore", "pipe"]
    })
    const root = Path.resolve(directory)
    const executed = new Map()
    for (const name of readdirSync(coverage)) {
      for (const script of JSON.parse(readFileSync(Path.join(coverage, name), "utf8")).result) {
        if (!script.url.startsWith("file:")) continue
        const file = Path.relative(root, fileURLToPath(script.url))
        if (file.startsWith("..")) continue
        const starts = executed.get(file) ?? new Set()
        // The first range of a function is the whole function; its count is how often it ran.
        for (const fn of script.functions) if (fn.ranges[0].count > 0) starts.add(fn.ranges[0].startOffset)
        executed.set(file, starts)
      }
    }
    return executed
  } finally {
    rmSync(coverage, { recursive: true, force: true })
  }
}

/** Whether a function expression under `parent` can be wrapped in parentheses as it is. */
const wrappable = (parent) =>
  parent !== undefined &&
  parent.type !== "MethodDefinition" &&
  !(parent.type === "Property" && (parent.method || parent.kind !== "init")) &&
  // At the start of a statement, an opening parenthesis could continue the line before it.
  parent.type !== "ExpressionStatement"

/**
 * `code` (the file `fileName`) with each function or arrow expression that starts at one of `starts`
 * wrapped in parentheses, the source map of that edit (from the result back to `code`, with `fileName`
 * as its one source) and how many were wrapped.
 */
export const hintEagerCompile = (code, starts, fileName) => {
  const edited = new MagicString(code)
  let wrapped = 0
  const consider = (node, _state, ancestors) => {
    if (!starts.has(node.start) || !wrappable(ancestors[ancestors.length - 2])) return
    edited.appendLeft(node.start, "(")
    edited.prependRight(node.end, ")")
    wrapped++
  }
  AcornWalk.ancestor(Acorn.parse(code, { ecmaVersion: "latest", sourceType: "module" }), {
    ArrowFunctionExpression: consider,
    FunctionExpression: consider
  })
  return {
    code: edited.toString(),
    map: edited.generateMap({ source: fileName, file: fileName, hires: true }),
    wrapped
  }
}
