/**
 * ajv is read when a decoder compiles its validator, not when the package is imported: a one-shot
 * command that decodes one document never pays for evaluating it (src/LazyAjv.cts).
 */
import { createRequire } from "node:module"
import * as Path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as FastDecoder from "../src/FastDecoder.js"
import { conversationDecoder } from "../src/index.js"

const ajvEntry = `${Path.sep}ajv${Path.sep}dist${Path.sep}ajv.js`
const ajvLoaded = () =>
  Object.keys(createRequire(import.meta.url).cache).some((path) => path.endsWith(ajvEntry))

describe("LazyAjv", () => {
  it("importing the schemas and decoding below the compile threshold leaves ajv unread; compiling reads it", () => {
    expect(ajvLoaded()).toBe(false)
    const document = { ID: "c1", state: "completed" }
    for (let use = 0; use < FastDecoder.compileAfter; use++)
      expect(conversationDecoder.decodeUnknownSync(document)).toBe(document)
    expect(ajvLoaded()).toBe(false)
    expect(conversationDecoder.isValid(document)).toBe(true)
    expect(ajvLoaded()).toBe(true)
  })
})
