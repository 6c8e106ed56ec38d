import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { FaultSpec } from "../src/index.js"

const parsed = (text: string): FaultSpec.FaultSpec => {
  const result = FaultSpec.parse(text)
  if (Either.isLeft(result)) throw new Error(`expected "${text}" to parse: ${result.left.message}`)
  return result.right
}

const rejection = (text: string): string => {
  const result = FaultSpec.parse(text)
  if (Either.isRight(result)) throw new Error(`expected "${text}" to be refused`)
  return result.left.message
}

describe("FaultSpec.parse", () => {
  it("reads each fault of the grammar", () => {
    assert.isTrue(parsed("down").down)
    assert.isTrue(parsed("hang").hang)
    assert.strictEqual(parsed("latency=200ms").latencyMs, 200)
    assert.strictEqual(parsed("latency=1.5s").latencyMs, 1500)
    assert.strictEqual(parsed("slow-body=2s").slowBodyMs, 2000)
    assert.strictEqual(parsed("status=503").status, 503)
    assert.deepStrictEqual(parsed("rate=5/s").rate, { tokens: 5, periodMs: 1000, burst: 5 })
    assert.deepStrictEqual(parsed("rate=100/m,burst=10").rate, { tokens: 100, periodMs: 60_000, burst: 10 })
    assert.deepStrictEqual(parsed("rate=3/10s").rate, { tokens: 3, periodMs: 10_000, burst: 3 })
    assert.isTrue(parsed("malformed").malformed)
    assert.isTrue(parsed("truncated").truncated)
    assert.strictEqual(parsed("content-type=text/html").contentType, "text/html")
    assert.isTrue(parsed("drift").drift)
    assert.isTrue(parsed("broken-primitive").brokenPrimitive)
  })

  it("combines clauses with commas, bounds them by count or time, and ignores spaces and case", () => {
    const spec = parsed(" Status=500 , code=TIMEOUT, retry-after=2s, latency=50ms, first=3 ")
    assert.strictEqual(spec.status, 500)
    assert.strictEqual(spec.code, "TIMEOUT")
    assert.strictEqual(spec.retryAfterMs, 2000)
    assert.strictEqual(spec.latencyMs, 50)
    assert.strictEqual(spec.first, 3)
    const timed = parsed("down,for=30s")
    assert.isTrue(timed.down)
    assert.strictEqual(timed.forMs, 30_000)
  })

  it("reads durations in the grammar every package shares: short units, decimals and Effect's words", () => {
    assert.strictEqual(parsed("latency=250ms").latencyMs, 250)
    assert.strictEqual(parsed("down,for=10 seconds").forMs, 10_000)
    assert.strictEqual(parsed("hang,for=2s").forMs, 2000)
    assert.strictEqual(parsed("slow-body=1 minute").slowBodyMs, 60_000)
    assert.strictEqual(parsed("status=503,retry-after=500 millis").retryAfterMs, 500)
    assert.strictEqual(parsed("down,for=1h").forMs, 3_600_000)
    assert.deepStrictEqual(parsed("rate=3/10 seconds").rate, { tokens: 3, periodMs: 10_000, burst: 3 })
    assert.strictEqual(FaultSpec.format(parsed("down,for=60 minutes")), "down,for=1h")
  })

  it("echoes at most the start of a long spec or value", () => {
    const long = "x".repeat(1_048_576)
    for (const text of [long, `latency=${long}`, `status=${long}`]) {
      const message = rejection(text)
      assert.isBelow(message.length, 400, text.slice(0, 20))
      assert.include(message, "…(")
    }
  })

  it("reads the empty text, healthy and none as no fault", () => {
    for (const text of ["", "  ", "healthy", "none"]) assert.deepStrictEqual(parsed(text), FaultSpec.healthy)
  })

  it("formats a spec canonically, and the format parses back to the same spec", () => {
    const texts = [
      "healthy",
      "down,for=30s",
      "hang,first=2",
      "latency=200ms,slow-body=2s",
      "status=500,code=TIMEOUT,retry-after=3s,first=3",
      "rate=5/s",
      "rate=3/10s,burst=6,for=1m",
      "malformed,truncated,content-type=text/html,drift,broken-primitive",
      "latency=1500ms"
    ]
    for (const text of texts) {
      const spec = parsed(text)
      assert.deepStrictEqual(parsed(FaultSpec.format(spec)), spec)
    }
    assert.strictEqual(FaultSpec.format(parsed("for=30s , status=503")), "status=503,for=30s")
    assert.strictEqual(FaultSpec.format(parsed("latency=1.5s")), "latency=1500ms")
  })

  it("refuses invalid specs with a message that says what is wrong", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["explode", 'unknown fault "explode"'],
      ["latency=200", "latency=200: add a unit, e.g. 200s or 200000ms"],
      ["latency=soon", 'latency=soon: "soon" is not a duration; expected a number with a unit'],
      ["for=-1s", "negative"],
      ["latency", '"latency" needs a value, as in latency=200ms'],
      ["status=200", "expected an HTTP error status, 400 to 599"],
      ["status=abc", "expected an HTTP error status"],
      ["rate=5", "expected requests per period"],
      ["rate=0/s", "expected requests per period"],
      ["first=0", "expected a positive whole number"],
      ["first=-1", "expected a positive whole number"],
      ["for=0s", "must be positive"],
      ["down=yes", '"down" takes no value'],
      ["status=503,status=500", '"status" is given twice'],
      ["status=503,,first=2", "empty clause"],
      ["first=3", "bounds and modifiers alone describe no fault"],
      ["code=TIMEOUT,malformed", '"code" only applies to "status"'],
      ["burst=3,status=503", '"burst" only applies to "rate"'],
      ["down,latency=1s", '"down" refuses the connection, so latency could never apply'],
      ["down,first=3", 'cannot be bounded by "first"'],
      ["hang,status=500", '"hang" never answers'],
      ["content-type=html", "expected a media type"]
    ]
    for (const [text, expected] of cases) {
      const message = rejection(text)
      assert.include(message, expected, `for "${text}"`)
      assert.include(message, `Invalid fault spec "${text}"`)
    }
  })

  it("refuses count, time and rate bounds in a request header, which applies to one request", () => {
    assert.isTrue(Either.isRight(FaultSpec.parseRequestHeader("status=500")))
    for (const text of ["status=500,first=1", "status=500,for=1s", "rate=1/s"]) {
      const result = FaultSpec.parseRequestHeader(text)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result))
        assert.include(result.left.message, "a request header applies to one request")
    }
  })

  it("lays a request's faults over the region's: the header wins, flags add up", () => {
    const merged = FaultSpec.overlay(
      parsed("status=503,code=BUSY,latency=1s,drift"),
      parsed("status=500,malformed")
    )
    assert.strictEqual(merged.status, 500)
    assert.isUndefined(merged.code)
    assert.strictEqual(merged.latencyMs, 1000)
    assert.isTrue(merged.drift)
    assert.isTrue(merged.malformed)
  })
})
