/**
 * Bundles the gateway into one ESM file, dist/convocore-gateway.mjs: the `bin` entry of package.json.
 * Workspace packages and dependencies are inlined; a few of them are CommonJS (prom-client, undici), so
 * the banner gives the bundle a `require` of its own.
 */

import { chmod } from "node:fs/promises"
import * as esbuild from "esbuild"

const outfile = "dist/convocore-gateway.mjs"

await esbuild.build({
  entryPoints: ["src/bin.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minify: false,
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __createRequire } from "node:module";',
      "const require = __createRequire(import.meta.url);"
    ].join("\n")
  }
})
await chmod(outfile, 0o755)
