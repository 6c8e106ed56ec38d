/**
 * One test per row of the outcome table (docs/design.md), through the driver with TestClock, starting
 * from each region in turn; the decision function alone is tested row by row in Decide.test.ts.
 */
import { seedExampleResponse } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { outline, runTraced } from "./services/Run.js"
import { clientLayer, errorReply, json, ok, type Script } from "./services/ScriptedTransport.js"

const regions = ["eu", "na"] as const

const errorTag = (result: Either.Either<unknown, { readonly _tag: string }>) =>
  Either.match(result, { onLeft: (error) => error._tag, onRight: () => "ok" })

describe.each(regions)("outcome table, starting in %s", (preferred) => {
  const other = preferred === "eu" ? "na" : "eu"
  /** The preferred region answers `first`, the other one answers 200. */
  const scripted = (first: Script, config = {}) =>
    clientLayer((region, n, url) => (region === preferred ? first(region, n, url) : ok()), {
      region: preferred,
      ...config
    })

  it.effect("connect failure: fails over to the other region at once", () => {
    const { sent, layer } = scripted(() => "refused")
    return Effect.gen(function* () {
      const { result, attempts } = yield* runTraced()
      assert.isTrue(Either.isRight(result))
      assert.deepStrictEqual(outline(attempts), [`${preferred}:connect-failed`, `${other}:ok`])
      assert.deepStrictEqual(
        sent.map((s) => [s.region, s.at]),
        [
          [preferred, 0],
          [other, 0]
        ]
      )
    }).pipe(Effect.provide(layer))
  })

  const retryable: ReadonlyArray<readonly [number, string | undefined, string]> = [
    [408, undefined, "server-error"],
    [429, undefined, "rate-limited"],
    [500, undefined, "server-error"],
    [502, undefined, "server-error"],
    [503, undefined, "server-error"],
    [504, undefined, "server-error"],
    [529, undefined, "server-error"],
    [500, "TOO_MANY_REQUESTS", "rate-limited"],
    [500, "TIMEOUT", "server-error"]
  ]
  for (const [status, code, outcome] of retryable) {
    it.effect(
      `${status}${code ? ` ${code}` : ""}: retried with backoff, then failover after two in a row`,
      () => {
        const { sent, layer } = scripted(() => errorReply(status, code))
        return Effect.gen(function* () {
          const { result, attempts } = yield* runTraced()
          assert.isTrue(Either.isRight(result))
          assert.deepStrictEqual(outline(attempts), [
            `${preferred}:${outcome}`,
            `${preferred}:${outcome}`,
            `${other}:ok`
          ])
          assert.strictEqual(attempts[0]?.status, status)
          const [first, second, third] = sent
          // First backoff: min(500 ms x 2^0, 8 s) with equal jitter, so within [250, 500] ms.
          const waited = second!.at - first!.at
          assert.isAtLeast(waited, 250)
          assert.isAtMost(waited, 500)
          assert.strictEqual(third!.at, second!.at, "failover to a fresh region waits nothing")
        }).pipe(Effect.provide(layer))
      }
    )
  }

  it.effect("a retryable status followed by success stays in the region", () => {
    const { sent, layer } = scripted((_, n) => (n === 1 ? errorReply(503) : ok()))
    return Effect.gen(function* () {
      const { result, attempts } = yield* runTraced()
      assert.isTrue(Either.isRight(result))
      assert.deepStrictEqual(outline(attempts), [`${preferred}:server-error`, `${preferred}:ok`])
      assert.isTrue(sent.every((s) => s.region === preferred))
    }).pipe(Effect.provide(layer))
  })

  it.effect("attempt timeout: the next attempt goes to the other region", () => {
    const { sent, layer } = scripted(() => "hang")
    return Effect.gen(function* () {
      const { result, attempts } = yield* runTraced()
      assert.isTrue(Either.isRight(result))
      assert.deepStrictEqual(outline(attempts), [`${preferred}:timeout`, `${other}:ok`])
      assert.strictEqual(sent[1]!.at, 10_000, "the default attempt timeout is 10 s")
      assert.isTrue(sent[0]!.interrupted, "the timed-out request is interrupted")
    }).pipe(Effect.provide(layer))
  })

  it.effect("connection reset: the next attempt goes to the other region", () => {
    const { layer } = scripted(() => "reset")
    return Effect.gen(function* () {
      const { result, attempts } = yield* runTraced()
      assert.isTrue(Either.isRight(result))
      assert.deepStrictEqual(outline(attempts), [`${preferred}:send-failed`, `${other}:ok`])
    }).pipe(Effect.provide(layer))
  })

  it.effect("truncated body (content-length mismatch): the next attempt goes to the other region", () => {
    const { layer } = scripted(
      () =>
        new Response(JSON.stringify(seedExampleResponse).slice(0, 40), {
          headers: { "content-type": "application/json", "content-length": "4000" }
        })
    )
    return Effect.gen(function* () {
      const { result, attempts } = yield* runTraced()
      assert.isTrue(Either.isRight(result))
      assert.deepStrictEqual(outline(attempts), [`${preferred}:invalid-response`, `${other}:ok`])
    }).pipe(Effect.provide(layer))
  })

  describe("Retry-After", () => {
    const rateLimitedOnce = (headers: Record<string, string>) =>
      scripted((_, n) => (n === 1 ? errorReply(429, "TOO_MANY_REQUESTS", headers) : ok()))

    const forms: ReadonlyArray<readonly [string, Record<string, string>, number]> = [
      ["retry-after-ms", { "retry-after-ms": "1500" }, 1500],
      ["retry-after in seconds", { "retry-after": "3" }, 3000],
      // The test clock starts at the epoch, so this date is 4 s from now.
      ["retry-after as an HTTP date", { "retry-after": new Date(4000).toUTCString() }, 4000]
    ]
    for (const [name, headers, expected] of forms) {
      it.effect(`${name}: waits max(backoff, hint) and retries in the same region`, () => {
        const { sent, layer } = rateLimitedOnce(headers)
        return Effect.gen(function* () {
          const { result, attempts } = yield* runTraced()
          assert.isTrue(Either.isRight(result))
          assert.deepStrictEqual(outline(attempts), [`${preferred}:rate-limited`, `${preferred}:ok`])
          assert.strictEqual(sent[1]!.at - sent[0]!.at, expected)
        }).pipe(Effect.provide(layer))
      })
    }

    /** Hints the call cannot afford to wait for: over the 60 s cap, or past the 30 s deadline. */
    const unaffordable = [
      ["a hint past the cap (60 s)", "120"],
      ["a hint beyond the deadline (but under the cap)", "45"]
    ] as const
    for (const [name, seconds] of unaffordable) {
      it.effect(`${name} fails over at once to the healthy region`, () => {
        const { sent, layer } = rateLimitedOnce({ "retry-after": seconds })
        return Effect.gen(function* () {
          const { result, attempts } = yield* runTraced()
          assert.isTrue(Either.isRight(result))
          assert.deepStrictEqual(outline(attempts), [`${preferred}:rate-limited`, `${other}:ok`])
          assert.strictEqual(sent[1]!.at, 0)
        }).pipe(Effect.provide(layer))
      })
    }

    it.effect("a hint past the cap with nowhere to go fails at once, carrying the hint", () => {
      const { sent, layer } = rateLimitedOnce({ "retry-after": "120" })
      return Effect.gen(function* () {
        const { result, endedAt } = yield* runTraced({ regionPolicy: "pinned" })
        assert.strictEqual(sent.length, 1)
        assert.strictEqual(endedAt, 0, "nothing was slept")
        const error = Either.getLeft(result)
        assert.isTrue(error._tag === "Some" && error.value._tag === "RateLimited")
        if (error._tag === "Some" && error.value._tag === "RateLimited") {
          assert.strictEqual(error.value.retryAfterMs, 120_000)
        }
      }).pipe(Effect.provide(layer))
    })

    it.effect("a hint beyond the deadline, pinned: fails at once with the hint, never sleeps past", () => {
      const { sent, layer } = rateLimitedOnce({ "retry-after": "45" })
      return Effect.gen(function* () {
        const { result, endedAt } = yield* runTraced({ regionPolicy: "pinned" })
        assert.strictEqual(sent.length, 1)
        assert.strictEqual(endedAt, 0)
        assert.strictEqual(errorTag(result), "RateLimited")
      }).pipe(Effect.provide(layer))
    })
  })

  const finals: ReadonlyArray<readonly [number, string]> = [
    [400, "BadRequest"],
    [401, "Unauthorized"],
    [403, "Forbidden"],
    [404, "NotFound"],
    [405, "BadRequest"],
    [410, "BadRequest"],
    [413, "BadRequest"],
    [422, "BadRequest"],
    [501, "UpstreamServerError"]
  ]
  for (const [status, tag] of finals) {
    it.effect(`${status}: final, no retry, no failover (${tag})`, () => {
      const { sent, layer } = scripted(() => errorReply(status))
      return Effect.gen(function* () {
        const { result, attempts } = yield* runTraced()
        assert.strictEqual(errorTag(result), tag)
        assert.strictEqual(sent.length, 1)
        assert.strictEqual(attempts[0]?.region, preferred)
        assert.strictEqual(attempts[0]?.status, status)
      }).pipe(Effect.provide(layer))
    })
  }

  it.effect("a code more precise than the status wins: 500 with NOT_FOUND is a final NotFound", () => {
    const { sent, layer } = scripted(() => errorReply(500, "NOT_FOUND"))
    return Effect.gen(function* () {
      const { result } = yield* runTraced()
      assert.strictEqual(errorTag(result), "NotFound")
      assert.strictEqual(sent.length, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the upstream's message, code, issues and request id reach the error", () => {
    const { layer } = scripted(() =>
      json(
        400,
        {
          message: "Invalid input",
          code: "BAD_REQUEST",
          issues: [{ message: "Required", path: ["convoId"], code: "invalid_type" }]
        },
        { "x-request-id": "req-42" }
      )
    )
    return Effect.gen(function* () {
      const { result } = yield* runTraced()
      const error = Either.getLeft(result)
      assert.isTrue(error._tag === "Some" && error.value._tag === "BadRequest")
      if (error._tag === "Some" && error.value._tag === "BadRequest") {
        assert.strictEqual(error.value.message, "Invalid input")
        assert.strictEqual(error.value.code, "BAD_REQUEST")
        assert.strictEqual(error.value.requestId, "req-42")
        assert.strictEqual(error.value.region, preferred)
        assert.deepStrictEqual(error.value.issues[0]?.path, ["convoId"])
      }
    }).pipe(Effect.provide(layer))
  })

  const unusable: ReadonlyArray<readonly [string, () => Response, string]> = [
    [
      "malformed JSON",
      () => new Response('{"success": true, "data": {', { headers: { "content-type": "application/json" } }),
      "malformed-json"
    ],
    [
      "an HTML 200 (wrong content type)",
      () => new Response("<html><body>Welcome</body></html>", { headers: { "content-type": "text/html" } }),
      "content-type"
    ]
  ]
  for (const [name, reply, reason] of unusable) {
    it.effect(`${name} from one region: the other region answers`, () => {
      const { sent, layer } = scripted(reply)
      return Effect.gen(function* () {
        const { result, attempts } = yield* runTraced()
        assert.isTrue(Either.isRight(result))
        assert.deepStrictEqual(outline(attempts), [`${preferred}:invalid-response`, `${other}:ok`])
        assert.strictEqual(sent[1]!.at, 0, "the other region is asked at once")
      }).pipe(Effect.provide(layer))
    })

    it.effect(`${name} from every region: InvalidResponse (${reason}) once the attempts are spent`, () => {
      const { sent, layer } = clientLayer(() => reply(), { region: preferred })
      return Effect.gen(function* () {
        const { result, attempts } = yield* runTraced()
        assert.strictEqual(sent.length, 4)
        assert.deepStrictEqual(outline(attempts), [
          `${preferred}:invalid-response`,
          `${other}:invalid-response`,
          `${preferred}:invalid-response`,
          `${other}:invalid-response`
        ])
        const error = Either.getLeft(result)
        assert.isTrue(error._tag === "Some" && error.value._tag === "InvalidResponse")
        if (error._tag === "Some" && error.value._tag === "InvalidResponse") {
          assert.strictEqual(error.value.reason, reason)
          assert.strictEqual(error.value.region, other)
        }
      }).pipe(Effect.provide(layer))
    })
  }

  it.effect("schema mismatch: final, typed as InvalidResponse (schema) with the path", () => {
    const { sent, layer } = scripted(() =>
      json(200, { ...seedExampleResponse, data: { ...seedExampleResponse.data, messagesNum: "five" } })
    )
    return Effect.gen(function* () {
      const { result, attempts } = yield* runTraced()
      assert.strictEqual(sent.length, 1)
      assert.deepStrictEqual(outline(attempts), [`${preferred}:invalid-response`])
      const error = Either.getLeft(result)
      assert.isTrue(error._tag === "Some" && error.value._tag === "InvalidResponse")
      if (error._tag === "Some" && error.value._tag === "InvalidResponse") {
        assert.strictEqual(error.value.reason, "schema")
        assert.strictEqual(error.value.path, "data.messagesNum")
        assert.strictEqual(error.value.region, preferred)
      }
    }).pipe(Effect.provide(layer))
  })
})
