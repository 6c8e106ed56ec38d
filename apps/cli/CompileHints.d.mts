/** Types of CompileHints.mjs (a build-time module, run by plain Node), for the tests. */
import type MagicString from "magic-string"

export declare const executedFunctions: (
  directory: string,
  args: ReadonlyArray<string>
) => Map<string, Set<number>>

export declare const hintEagerCompile: (
  code: string,
  starts: ReadonlySet<number>,
  fileName: string
) => { readonly code: string; readonly map: ReturnType<MagicString["generateMap"]>; readonly wrapped: number }
