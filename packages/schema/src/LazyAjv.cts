/**
 * ajv, read on the first call rather than when the schema package is imported. `FastDecoder` compiles a
 * validator only after many decodes, and the validator is asked for synchronously (`isValid`), so the
 * loading must be synchronous too: a CommonJS `require` inside a function (ajv is CommonJS). Evaluating
 * ajv's modules (its meta-schema, URI and error tables) was a measurable part of a CLI start that never
 * compiles a validator (bench/README.md's CLI section). esbuild bundles this `require` as a lazily
 * initialised module, and plain Node runs it as written. This file is the one CommonJS module of the
 * package because esbuild bundles a plain `require` but not one made by `createRequire`, the ES module's
 * synchronous way to load another on demand.
 */
import type * as AjvModule from "ajv"

let loaded: typeof AjvModule | undefined
const load = (): typeof AjvModule => {
  loaded ??= require("ajv") as typeof AjvModule
  return loaded
}
export = load
