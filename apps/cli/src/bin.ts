#!/usr/bin/env node
/**
 * The `convocore` executable's first module. It turns on Node's compile cache before the rest of the
 * program is read, so that a second start reuses the bytecode V8 made for the first. Help and
 * `--version` are answered here, from the help pages read at build time (HelpDocument.ts): they need
 * neither Effect nor @effect/cli, which take most of a start to load. Any other command line goes to
 * the program (Main.ts). ES modules are linked before any of their code runs, hence the `import()`.
 */
import pages from "convocore:help-pages"
import * as CommandTree from "./CommandTree.js"
import * as CompileCache from "./CompileCache.js"
import * as Help from "./Help.js"
import { version } from "./version.js"

CompileCache.enable()
const args = process.argv.slice(2)
const located = CommandTree.locate(pages.root, args)
if (CommandTree.asksForHelp(located, args))
  process.stdout.write(Help.render(pages, located, Help.widthOf(process.stdout)))
else if (args.length === 1 && args[0] === "--version") process.stdout.write(`${version}\n`)
else await import("./Main.js")
