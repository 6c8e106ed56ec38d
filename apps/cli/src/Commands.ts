/**
 * The commands' implementations, each loaded only when its command runs: `convocore --help` needs the
 * command tree (Cli.ts) and nothing of the client, the sandbox or the output libraries. In the bundle,
 * each `import()` becomes a chunk of its own (esbuild's code splitting).
 */
export const GetConversation = () => import("./GetConversation.js")
export const ExportConversations = () => import("./ExportConversations.js")
export const ListConversations = () => import("./ListConversations.js")
export const ServeSandbox = () => import("./ServeSandbox.js")
