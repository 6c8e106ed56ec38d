#!/usr/bin/env node
/**
 * The `convocore` executable's first module. It turns on Node's compile cache before the rest of the
 * program is read, so that a second start reuses the bytecode V8 made for the first; then it loads the
 * program (Main.ts). ES modules are linked before any of their code runs, hence the `import()`.
 */
import * as CompileCache from "./CompileCache.js"

CompileCache.enable()
await import("./Main.js")
