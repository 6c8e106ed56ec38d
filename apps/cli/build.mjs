/**
 * Bundles the CLI with esbuild's code splitting: dist/convocore.mjs is the entry (the command tree,
 * all that `--help`, `--version` and the completions load), and each command with the client, the
 * sandbox and the output libraries is a chunk in dist/chunks/, loaded by the `import()`s of
 * src/Commands.ts when that command runs. Modules both sides use land in shared chunks, so nothing is
 * bundled twice. Source maps sit beside each file (`node --enable-source-maps` reads them).
 */
import { chmod, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises"
import * as Path from "node:path"
import { build } from "esbuild"

const outdir = "dist"

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
  banner: {
    js: 'import { createRequire as __convocoreRequire } from "node:module"; const require = __convocoreRequire(import.meta.url);'
  }
})

// turbo's build and the tests' globalSetup may build at the same time, and a test must never start a
// half-written file: each file is written beside and renamed into place, the entry last. Chunk names
// carry a hash of their contents, so two builds of the same sources write the same files.
const entry = Path.resolve(outdir, "convocore.mjs")
const files = [...result.outputFiles].sort((a, b) => Number(a.path === entry) - Number(b.path === entry))
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
