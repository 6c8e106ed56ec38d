/**
 * Bundles the CLI with esbuild's code splitting: dist/convocore.mjs is the entry (the help pages and
 * their layout: all that `--help` and `--version` load), and the program (src/Main.ts: @effect/cli,
 * the command tree and the commands with the client and the sandbox) is a chunk it imports for any
 * other command line. What only some runs need is imported where it is used and so is a chunk of its
 * own in dist/chunks/: undici (talking to Convocore), yaml, the progress bar, telemetry's exporters.
 * The commands are not such chunks: every command line that reaches the program runs one, and each
 * `import()` of a chunk is a wait of its own while the program starts (bench/README.md, CLI section).
 * Modules both sides use land in shared chunks, so nothing is bundled twice. Source maps sit beside
 * each file (`node --enable-source-maps` reads them). The functions a `get` runs carry compile hints
 * (CompileHints.mjs), so that Node's compile cache keeps them compiled between starts.
 */
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import remapping from "@jridgewell/remapping"
import { build } from "esbuild"
import { executedFunctions, hintEagerCompile } from "./CompileHints.mjs"

const outdir = "dist"

/**
 * The help pages of every command, as src/HelpDocument.ts reads them from @effect/cli's descriptors of
 * the command tree (src/Cli.ts): bundled on their own (the `import()`s left out, never run) and run
 * once here.
 */
const readHelpPages = async () => {
  const bundled = await build({
    stdin: {
      contents:
        'import { tree } from "./src/Cli.js"; import { pagesOf } from "./src/HelpDocument.js"; export default pagesOf(tree)',
      resolveDir: import.meta.dirname,
      loader: "ts"
    },
    bundle: true,
    format: "esm",
    platform: "node",
    logLevel: "warning",
    write: false,
    plugins: [
      {
        name: "commands-left-out",
        setup: (build) =>
          build.onResolve({ filter: /.*/ }, (args) =>
            args.kind === "dynamic-import" ? { path: args.path, external: true } : undefined
          )
      }
    ]
  })
  const directory = await mkdtemp(Path.join(Os.tmpdir(), "convocore-help-"))
  try {
    const file = Path.join(directory, "pages.mjs")
    await writeFile(file, bundled.outputFiles[0].contents)
    return (await import(pathToFileURL(file).href)).default
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}
const helpPages = await readHelpPages()

/**
 * Node's built-in modules, each read when the bundle first uses one of its exports. An ES module import
 * of a builtin (what esbuild keeps for `import ... from "node:fs"`) loads it while the chunk links and
 * reads every export (Node builds the ES module's namespace), which runs the builtin's lazy getters:
 * `node:fs` loads its streams, `node:crypto` loads at all. The platform layer @effect/cli needs imports
 * both, and a `get` uses neither (bench/README.md, CLI section). Here each builtin is a small CommonJS
 * module whose exports are getters that `require` the builtin on first use.
 */
const builtinsOnFirstUse = {
  name: "builtins-on-first-use",
  setup: (build) => {
    build.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === "import-statement" ? { path: args.path, namespace: "builtin-on-first-use" } : undefined
    )
    build.onLoad({ filter: /.*/, namespace: "builtin-on-first-use" }, async (args) => {
      // The builtin's export names, as the Node that builds knows them.
      const names = Object.keys(await import(args.path)).filter((name) => name !== "default")
      return {
        loader: "js",
        contents: [
          "let builtin",
          `const load = () => (builtin ??= require(${JSON.stringify(args.path)}))`,
          `for (const name of ${JSON.stringify(names)})`,
          "  Object.defineProperty(module.exports, name, { enumerable: true, get: () => load()[name] })"
        ].join("\n")
      }
    })
  }
}

const result = await build({
  entryPoints: { convocore: "src/bin.ts" },
  outdir,
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Less for V8 to read at each start; the source maps keep stack traces readable.
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  write: false,
  // A few dependencies are CommonJS (undici, cli-progress): their `require` calls need a real one.
  plugins: [
    builtinsOnFirstUse,
    {
      name: "help-pages",
      setup: (build) => {
        build.onResolve({ filter: /^convocore:help-pages$/ }, (args) => ({
          path: args.path,
          namespace: "help-pages"
        }))
        build.onLoad({ filter: /.*/, namespace: "help-pages" }, () => ({
          contents: JSON.stringify(helpPages),
          loader: "json"
        }))
      }
    }
  ],
  banner: {
    js: 'import { createRequire as __convocoreRequire } from "node:module"; const require = __convocoreRequire(import.meta.url);'
  }
})

/**
 * The bundle with compile hints (CompileHints.mjs): written to a temporary directory and run once, as
 * the documented first command (a `get` from the in-process sandbox: the runtime, @effect/cli's parse,
 * the client and the output, which every command shares); then each function expression that ran is
 * wrapped so that V8 compiles it with its module, and Node's compile cache keeps it. Each chunk's source
 * map is the composition of this edit's and esbuild's.
 */
const withCompileHints = async (outputFiles) => {
  const directory = await mkdtemp(Path.join(Os.tmpdir(), "convocore-build-"))
  const nameOf = (file) => Path.relative(Path.resolve(outdir), file.path)
  try {
    for (const file of outputFiles) {
      const target = Path.join(directory, nameOf(file))
      await mkdir(Path.dirname(target), { recursive: true })
      await writeFile(target, file.contents)
    }
    const executed = executedFunctions(directory, [
      "conversations",
      "get",
      "agent123",
      "convo456",
      "--sandbox"
    ])
    const byName = new Map(outputFiles.map((file) => [nameOf(file), file]))
    const hintedText = new Map()
    for (const [name, starts] of executed) {
      const code = byName.get(name)
      const map = byName.get(`${name}.map`)
      if (code === undefined || map === undefined) continue
      const hinted = hintEagerCompile(code.text, starts, Path.basename(name))
      const composed = remapping(hinted.map.toString(), (source) =>
        source === Path.basename(name) ? map.text : null
      )
      hintedText.set(name, hinted.code)
      hintedText.set(`${name}.map`, composed.toString())
    }
    return outputFiles.map((file) => ({
      path: file.path,
      contents: hintedText.get(nameOf(file)) ?? file.contents
    }))
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}

// turbo's build and the tests' globalSetup may build at the same time, and a test must never start a
// half-written file: each file is written beside and renamed into place, the entry last. Chunk names
// carry a hash of their contents before the hints, so two builds of the same sources write the same
// names (and, for the same run of the `get`, the same files).
const entry = Path.resolve(outdir, "convocore.mjs")
const files = (await withCompileHints(result.outputFiles)).sort(
  (a, b) => Number(a.path === entry) - Number(b.path === entry)
)
await mkdir(Path.join(outdir, "chunks"), { recursive: true })
for (const file of files) {
  const temporary = `${file.path}.${process.pid}.tmp`
  await writeFile(temporary, file.contents)
  if (file.path === entry) await chmod(temporary, 0o755)
  await rename(temporary, file.path)
}
// Chunks of earlier builds are never loaded again.
const written = new Set(files.map((file) => Path.basename(file.path)))
for (const name of await readdir(Path.join(outdir, "chunks")))
  if (!written.has(name) && !name.endsWith(".tmp"))
    await rm(Path.join(outdir, "chunks", name), { force: true })
