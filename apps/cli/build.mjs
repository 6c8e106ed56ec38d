// Bundles the CLI into one ESM file, dist/convocore.mjs: one file to read and no module resolution at
// start-up. Nothing is external: the workspace packages and the npm dependencies are all inside. The
// commands import their modules with import(), which esbuild turns into lazily evaluated closures in
// the same file, so `convocore --help` evaluates only the command tree, not the client, the sandbox or
// the output libraries.
import { chmod, mkdir, rename } from "node:fs/promises"
import { build } from "esbuild"

const outfile = "dist/convocore.mjs"
// Built beside and renamed into place: turbo's build and the tests' globalSetup may build at the same
// time, and a test must never start a half-written binary.
const temporary = `${outfile}.${process.pid}.tmp`

await mkdir("dist", { recursive: true })
await build({
  entryPoints: ["src/bin.ts"],
  outfile: temporary,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  banner: {
    // CommonJS dependencies (ajv, cli-progress) call require() for Node built-ins; ESM has no require.
    js: '#!/usr/bin/env node\nimport { createRequire as __createRequire } from "node:module";const require = __createRequire(import.meta.url);'
  }
})
await chmod(temporary, 0o755)
await rename(temporary, outfile)
