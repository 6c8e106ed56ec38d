// Bundles the CLI into one ESM file, dist/convocore.mjs: one file to read and no module resolution at
// start-up. Nothing is external: the workspace packages and the npm dependencies are all inside.
//
// `convocore --help` must start in at most 3x the time of `node -e 0`, and most of a start is V8
// reading the code: every function in the file is at least pre-parsed, whether it runs or not. So the
// file holds two programs:
// - the command tree (src/bin.ts, src/Cli.ts and what they import: effect's runtime, @effect/cli) as
//   plain code, all that `--help`, `--version` and the completions evaluate;
// - the commands (GetConversation, ExportConversations, ServeSandbox with the client, the sandbox,
//   undici, ajv, yaml, csv-stringify, cli-progress) as one CommonJS function body, compressed into a
//   string literal, which V8 skips at almost no cost. The module that stands in for src/Commands.ts
//   decompresses and compiles it the first time a command runs.
// The commands use the tree's copy of every module the tree has (one effect runtime, one of each class,
// tag and fiber ref): they get them from a `require` the tree hands them, and the tree keeps, beside
// what it needs itself, exactly the exports the commands use. Nothing is bundled twice.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { brotliCompressSync, constants as zlib } from "node:zlib"
import { build, transform } from "esbuild"

const outfile = "dist/convocore.mjs"
// Built beside and renamed into place: turbo's build and the tests' globalSetup may build at the same
// time, and a test must never start a half-written binary.
const temporary = `${outfile}.${process.pid}.tmp`
const commandModules = ["GetConversation", "ExportConversations", "ServeSandbox"]

const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  write: false
}
/** The absolute paths of the modules an esbuild result kept code of. */
const kept = (result) =>
  Object.entries(Object.values(result.metafile.outputs)[0].inputs)
    .filter(([path, input]) => input.bytesInOutput > 0 && !path.includes(":"))
    .map(([path]) => Path.resolve(path))

/**
 * `import { Effect, Schema } from "effect"` read as `import * as Effect from ".../effect/dist/esm/Effect.js"`
 * and so on, for every package entry made of `export * as Name from "./Name.js"`: esbuild keeps all of
 * a namespace that comes through such an entry, but only the used exports of one imported directly.
 */
const deepImports = {
  name: "deep-imports",
  setup(b) {
    const entries = new Map()
    const namespacesOf = (entry) => {
      if (!entries.has(entry))
        entries.set(
          entry,
          readFile(entry, "utf8").then(async (text) => {
            const namespaces = new Map()
            for (const [, name, path] of text.matchAll(/^export \* as ([\w$]+) from "(\.[^"]+)";$/gm)) {
              const resolved = await b.resolve(path, {
                kind: "import-statement",
                resolveDir: Path.dirname(entry),
                pluginData: { plain: true }
              })
              if (resolved.errors.length === 0) namespaces.set(name, resolved.path)
            }
            return namespaces
          })
        )
      return entries.get(entry)
    }
    b.onLoad({ filter: /\.(m?js|ts)$/, namespace: "file" }, async (args) => {
      const text = await readFile(args.path, "utf8")
      let contents = text
      for (const [statement, list, specifier] of text.matchAll(
        /^import \{([^}]*)\} from "([^."][^"]*)";?$/gm
      )) {
        const resolved = await b.resolve(specifier, {
          kind: "import-statement",
          resolveDir: Path.dirname(args.path),
          importer: args.path,
          pluginData: { plain: true }
        })
        if (resolved.errors.length > 0 || resolved.external) continue
        const namespaces = await namespacesOf(resolved.path)
        const rest = []
        const deep = []
        for (const item of list.split(",").map((text) => text.trim())) {
          const [name, local = name] = item.split(/\s+as\s+/)
          if (namespaces.has(name))
            deep.push(`import * as ${local} from ${JSON.stringify(namespaces.get(name))};`)
          else if (item !== "") rest.push(item)
        }
        if (deep.length === 0) continue
        // Types alone stay as `import type`: verbatimModuleSyntax keeps `import { type A }` as `import "x"`.
        const types = rest.every((item) => item.startsWith("type "))
        const left = types ? rest.map((item) => item.slice("type ".length)) : rest
        const residual =
          left.length === 0 ? "" : `import ${types ? "type " : ""}{ ${left.join(", ")} } from "${specifier}";`
        contents = contents.replace(statement, () => `${residual}${deep.join("")}`)
      }
      return contents === text ? undefined : { contents, loader: args.path.endsWith(".ts") ? "ts" : "js" }
    })
  }
}

/** Puts a module with these contents in place of src/Commands.ts. */
const commandsAs = (contents) => ({
  name: "commands",
  setup(b) {
    b.onResolve({ filter: /^\.\/Commands\.js$/ }, (args) =>
      Path.resolve(args.resolveDir, "Commands.ts") === Path.resolve("src/Commands.ts")
        ? { path: "commands", namespace: "convocore-commands" }
        : undefined
    )
    b.onLoad({ filter: /.*/, namespace: "convocore-commands" }, () => ({
      contents,
      loader: "js",
      resolveDir: process.cwd()
    }))
  }
})

// 1. The command tree alone: the modules it keeps are the ones to share.
const tree = await build({
  ...common,
  entryPoints: ["src/bin.ts"],
  outfile: "tree.mjs",
  minify: true,
  plugins: [
    deepImports,
    commandsAs(commandModules.map((name) => `export const ${name} = undefined`).join("\n"))
  ]
})
// Also shared: ES modules the tree drops but keeps once the commands read a shared module's exports that
// use them, while the commands import them directly too (the OTLP exporter imports effect/Tracer).
const alsoShared = ["effect/Tracer"].map((specifier) => fileURLToPath(import.meta.resolve(specifier)))
const shared = new Map(
  [...new Set([...kept(tree), ...alsoShared])].map((path, i) => [path, `#convocore/shared/${i}`])
) // path -> require id
const pathOf = new Map([...shared].map(([path, id]) => [id, path]))
for (const path of shared.keys())
  if (
    !alsoShared.includes(path) &&
    tree.metafile.inputs[Path.relative(process.cwd(), path)]?.format !== "esm"
  )
    throw new Error(`${path}: the commands can share ES modules only`)

const exported = await build({
  entryPoints: [...shared.keys()],
  format: "esm",
  platform: "node",
  outdir: "exports",
  outbase: "/",
  metafile: true,
  write: false,
  logLevel: "warning"
})
const exportsOf = new Map(
  Object.values(exported.metafile.outputs).map((output) => [Path.resolve(output.entryPoint), output.exports])
)

// 2. The commands, where each shared module is a stand-in that reads every export off the external
// "#convocore/shared/N" (`const eN = convocoreShared["name"]`): esbuild keeps the lines the code uses.
const commands = await build({
  ...common,
  stdin: {
    contents: commandModules.map((name) => `export * as ${name} from "./src/${name}.ts"`).join("\n"),
    resolveDir: process.cwd(),
    loader: "ts"
  },
  outfile: "commands.mjs",
  define: { "import.meta.url": "__importMetaUrl" },
  plugins: [
    {
      name: "shared-stand-ins",
      setup(b) {
        b.onResolve({ filter: /^#convocore\/shared\// }, (args) => ({ path: args.path, external: true }))
        b.onResolve({ filter: /.*/ }, async (args) => {
          if (args.kind === "entry-point" || args.pluginData?.plain === true) return undefined
          const resolved = await b.resolve(args.path, {
            kind: args.kind,
            importer: args.importer,
            resolveDir: args.resolveDir,
            pluginData: { plain: true }
          })
          return resolved.errors.length === 0 && shared.has(resolved.path)
            ? { path: resolved.path, namespace: "shared-stand-in" }
            : undefined
        })
        b.onLoad({ filter: /.*/, namespace: "shared-stand-in" }, async (args) => {
          const id = JSON.stringify(shared.get(args.path))
          // Names re-exported with `export *` are not in the metafile: such a module is shared whole.
          if (/^export \* from/m.test(await readFile(args.path, "utf8")))
            return { contents: `export * from ${id}`, loader: "js" }
          const names = exportsOf.get(args.path)
          return {
            contents: [
              `import * as convocoreShared from ${id}`,
              ...names.map((name, i) => `const e${i} = convocoreShared[${JSON.stringify(name)}]`),
              `export { ${names.map((name, i) => `e${i} as ${name}`).join(", ")} }`
            ].join("\n"),
            loader: "js"
          }
        })
      }
    },
    deepImports
  ]
})
const esm = commands.outputFiles[0].text
const duplicated = kept(commands).filter((path) => shared.has(path))
if (duplicated.length > 0) throw new Error(`bundled twice: ${duplicated.join(", ")}`)

const sharedImport = /^import \* as ([\w$]+) from "(#convocore\/shared\/\d+)";$/gm
const sharedImports = [...esm.matchAll(sharedImport)]
if ((esm.match(/#convocore\/shared\//g) ?? []).length !== sharedImports.length)
  throw new Error("the commands name a shared module other than in `import * as`")
const body = esm.replace(sharedImport, "")
const used = new Map() // require id -> names the commands read; "*": the whole namespace
for (const [, alias, id] of sharedImports) {
  const names = used.get(id) ?? new Set()
  used.set(id, names)
  const reads = new RegExp(
    `(?<![\\w$.])${alias.replaceAll("$", "\\$")}(?![\\w$])(?:\\["([^"]+)"\\]|\\.([\\w$]+))?`,
    "g"
  )
  for (const [, quoted, dotted] of body.matchAll(reads)) names.add(quoted ?? dotted ?? "*")
}

const cjs = await transform(esm, {
  format: "cjs",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none"
})
if (cjs.warnings.length > 0)
  throw new Error(`commands: ${cjs.warnings.map((warning) => warning.text).join("; ")}`)
// Brotli and base64: a third of the bytes to read at every start, a few ms to decode when a command runs.
const compressed = brotliCompressSync(`"use strict";${cjs.code}`, {
  params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: cjs.code.length }
}).toString("base64")

const ids = [...used.keys()]
const loader = `import { createRequire } from "node:module"
${ids.map((id, i) => `import * as s${i} from ${JSON.stringify(`convocore-shared:${id}`)}`).join("\n")}
const shared = new Map([${ids.map((id, i) => `[${JSON.stringify(id)}, s${i}]`).join(", ")}])
let commands
const load = () => {
  if (commands === undefined) {
    const nodeRequire = createRequire(import.meta.url)
    const require = Object.assign((id) => shared.get(id) ?? nodeRequire(id), nodeRequire)
    const module = { exports: {} }
    const source = nodeRequire("node:zlib").brotliDecompressSync(Buffer.from(${JSON.stringify(compressed)}, "base64"))
    new Function("require", "module", "exports", "__importMetaUrl", source.toString())(
      require, module, module.exports, import.meta.url
    )
    commands = module.exports
  }
  return commands
}
${commandModules.map((name) => `export const ${name} = () => Promise.resolve().then(() => load().${name})`).join("\n")}
`

// 3. The command tree with that loader, and with the exports the commands read from each shared module.
await mkdir("dist", { recursive: true })
const bin = await build({
  ...common,
  entryPoints: ["src/bin.ts"],
  outfile,
  minify: true,
  banner: { js: "#!/usr/bin/env node" },
  plugins: [
    deepImports,
    commandsAs(loader),
    {
      name: "shared-exports",
      setup(b) {
        b.onResolve({ filter: /^convocore-shared:/ }, (args) => ({
          path: args.path.slice("convocore-shared:".length),
          namespace: "convocore-shared"
        }))
        b.onLoad({ filter: /.*/, namespace: "convocore-shared" }, (args) => {
          const path = JSON.stringify(pathOf.get(args.path))
          const names = used.get(args.path)
          const whole = `export * from ${path}${exportsOf.get(pathOf.get(args.path)).includes("default") ? `; export { default } from ${path}` : ""}`
          return {
            contents: names.has("*") ? whole : `export { ${[...names].join(", ")} } from ${path}`,
            loader: "js",
            resolveDir: process.cwd()
          }
        })
      }
    }
  ]
})
// What the shared exports brought into the tree must not be in the commands as well.
const commandsKept = new Set(kept(commands))
const twice = kept(bin).filter((path) => !shared.has(path) && commandsKept.has(path))
if (twice.length > 0) throw new Error(`bundled twice: ${twice.join(", ")}`)
await writeFile(temporary, bin.outputFiles[0].contents)
await chmod(temporary, 0o755)
await rename(temporary, outfile)
