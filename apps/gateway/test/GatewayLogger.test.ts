import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { formatRequestLine, type RequestFields } from "../src/GatewayLogger.js"

/** The line as the logger's shape defines it. */
const reference = (fields: RequestFields, millis: number): string =>
  `${JSON.stringify({ time: new Date(millis).toISOString(), level: "info", msg: "request", ...fields })}\n`

// Strings full of what JSON escapes or might: quotes, backslashes, control characters, line separators,
// lone and paired surrogates, and plain text.
const awkward = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', "\\", "\n", "\u0000", "\u001f", "\u007f", "\u2028", "\ud800", "\udfff", "é", "😀"),
    fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
    fc.constantFrom("a", "/", "-", " ")
  ),
  maxLength: 12
})

const fields = (text: fc.Arbitrary<string>): fc.Arbitrary<RequestFields> =>
  fc.record({
    requestId: text,
    method: text,
    route: text,
    path: text,
    status: fc.oneof(fc.constantFrom(200, 404, 503), fc.integer()),
    durationMs: fc.oneof(fc.double(), fc.constantFrom(0, -0, 0.1, 12.5)),
    cacheStatus: fc.option(text, { nil: undefined }),
    region: fc.option(text, { nil: undefined })
  })

const millis = fc.integer({ min: 0, max: 4_102_444_800_000 })

describe("formatRequestLine", () => {
  it.prop(
    "writes exactly the line JSON.stringify writes, whatever the strings hold",
    [fields(awkward), millis],
    ([line, at]) => {
      assert.strictEqual(formatRequestLine(line, at), reference(line, at))
    },
    { fastCheck: { numRuns: 500, seed: 20261123 } }
  )

  it.prop(
    "stays exact over a run of lines that share and change their pieces",
    [
      fc.array(
        fc.tuple(
          fields(fc.constantFrom("GET", "eu", '"x"', "", "a\\b", "\ud800")),
          fc.constantFrom(0, 1, 1000)
        ),
        {
          minLength: 1,
          maxLength: 30
        }
      )
    ],
    ([lines]) => {
      for (const [line, at] of lines) assert.strictEqual(formatRequestLine(line, at), reference(line, at))
    },
    { fastCheck: { numRuns: 300, seed: 6 } }
  )
})
