/**
 * Every command's help page, as HelpDocument.ts reads them from the command tree of Cli.ts: build.mjs
 * reads them when it builds and bundles them into the entry as this module.
 */
declare module "convocore:help-pages" {
  const pages: import("./Help.js").Pages
  export default pages
}
