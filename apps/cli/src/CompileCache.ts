/**
 * Node's on-disk compile cache (Node 22.8+): V8's bytecode for every module kept between runs. Node
 * picks the directory: `NODE_COMPILE_CACHE` when set, else `node-compile-cache` in the temporary
 * directory; `NODE_DISABLE_COMPILE_CACHE=1` turns it off. Older Node lines have no such function and
 * start as before.
 */
import Module from "node:module"

export const enable = (): void => {
  // Looked up at run time: Node 20 (and @types/node 20) lack it.
  if (!("enableCompileCache" in Module) || typeof Module.enableCompileCache !== "function") return
  try {
    Module.enableCompileCache()
  } catch {
    // A cache directory that cannot be written only makes the start slower, never fails it.
  }
}
