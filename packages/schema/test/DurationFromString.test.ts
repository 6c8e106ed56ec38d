import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Schema } from "effect"
import {
  DurationFromMillisOrString,
  DurationFromString,
  formatDurationMillis,
  parseDurationMillis
} from "../src/index.js"

const millis = (schema: typeof DurationFromString, text: string) =>
  Either.map(Schema.decodeUnknownEither(schema)(text), Duration.toMillis)

const refusal = (schema: typeof DurationFromString, text: string): string =>
  Either.match(Schema.decodeUnknownEither(schema)(text), {
    onLeft: (error) => error.message,
    onRight: (duration) => assert.fail(`"${text}" decoded to ${Duration.format(duration)}`)
  })

describe("DurationFromString", () => {
  it("reads short units, decimals, and Effect's words in the singular and plural", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["500ms", 500],
      ["2s", 2000],
      ["1.5s", 1500],
      [".5s", 500],
      ["1m", 60_000],
      ["1h", 3_600_000],
      ["10 seconds", 10_000],
      ["1 second", 1000],
      ["500 millis", 500],
      ["1 milli", 1],
      ["250 milliseconds", 250],
      ["2 minutes", 120_000],
      ["1 minute", 60_000],
      ["3 hours", 10_800_000],
      ["1 hour", 3_600_000],
      [" 30S ", 30_000],
      ["0s", 0]
    ]
    for (const [text, ms] of cases)
      assert.deepStrictEqual(millis(DurationFromString, text), Either.right(ms), text)
  })

  it("refuses a bare number with a hint naming both units it could have meant", () => {
    assert.strictEqual(refusal(DurationFromString, "5"), "add a unit, e.g. 5s or 5000ms")
    assert.strictEqual(refusal(DurationFromString, "1.5"), "add a unit, e.g. 1.5s or 1500ms")
  })

  it("refuses negatives, NaN, the empty text and garbage, saying what it accepts", () => {
    for (const text of [
      "-1s",
      "-5",
      "NaN",
      "Infinity",
      "",
      "  ",
      "soon",
      "1d",
      "1e3s",
      "1 2s",
      "s",
      "5 lightyears"
    ]) {
      const message = refusal(DurationFromString, text)
      assert.include(message, 'such as 500ms, 2s, 1.5m, 1h or "10 seconds"', text)
    }
    assert.include(refusal(DurationFromString, "-1s"), "negative")
    assert.include(refusal(DurationFromString, ""), "empty")
  })

  it("echoes a long refused value only in part", () => {
    const message = refusal(DurationFromString, `${"9".repeat(1_000_000)}x`)
    assert.isBelow(message.length, 200)
    assert.include(message, "…(1000001 chars)")
  })

  it("encodes to the shortest exact text, which decodes back to the same duration", () => {
    for (const text of ["1h", "2m", "30s", "1500ms", "0ms", "90s"]) {
      const duration = Schema.decodeSync(DurationFromString)(text)
      assert.strictEqual(Schema.encodeSync(DurationFromString)(duration), text)
    }
    assert.strictEqual(formatDurationMillis(3_600_000), "1h")
    assert.isTrue(Either.isLeft(Schema.encodeEither(DurationFromString)(Duration.infinity)))
  })
})

describe("DurationFromMillisOrString", () => {
  it("reads a bare number as milliseconds, and everything DurationFromString reads", () => {
    assert.deepStrictEqual(millis(DurationFromMillisOrString, "5000"), Either.right(5000))
    assert.deepStrictEqual(millis(DurationFromMillisOrString, "30s"), Either.right(30_000))
    assert.deepStrictEqual(parseDurationMillis("2.4", "millis"), Either.right(2))
    assert.isTrue(Either.isLeft(millis(DurationFromMillisOrString, "-5")))
    assert.include(
      Either.getLeft(parseDurationMillis("soon", "millis")).pipe((o) => (o._tag === "Some" ? o.value : "")),
      'expected milliseconds (5000) or a number with a unit, such as 500ms, 2s, 1.5m, 1h or "10 seconds"'
    )
  })

  it.effect("through Schema.Config, every bad variable is reported at once, each by name, on one line", () =>
    Effect.gen(function* () {
      const config = Effect.all(
        [
          Schema.Config("A_TIMEOUT", DurationFromString),
          Schema.Config("B_TIMEOUT", DurationFromMillisOrString)
        ],
        { mode: "either" }
      )
      const [a, b] = yield* Effect.withConfigProvider(
        config,
        ConfigProvider.fromMap(
          new Map([
            ["A_TIMEOUT", "5"],
            ["B_TIMEOUT", "later"]
          ])
        )
      )
      assert.isTrue(Either.isLeft(a) && Either.isLeft(b))
      const text = `${Either.isLeft(a) ? a.left : ""} ${Either.isLeft(b) ? b.left : ""}`
      assert.include(text, 'A_TIMEOUT: "add a unit, e.g. 5s or 5000ms"')
      assert.include(text, "B_TIMEOUT")
      assert.notInclude(text, "\n")
    })
  )
})
