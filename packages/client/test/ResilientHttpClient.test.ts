/**
 * The resilient layer beyond single rows of the table: deadline, attempt budget, circuit breaker,
 * region policies, hedging, and what reaches the transport.
 */
import { seedExampleResponse } from "@convocore-effect/schema"
import { HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Either, Fiber, TestClock } from "effect"
import { CircuitBreaker, Convocore, userAgent } from "../src/index.js"
import { outline, runTraced } from "./services/Run.js"
import { clientLayer, errorReply, ok, ref, SECRET } from "./services/ScriptedTransport.js"

describe("deadline and attempt budget", () => {
  it.effect(
    "attempts never exceed the maximum, and a call over both regions fails as AllRegionsFailed",
    () => {
      const { sent, layer } = clientLayer(() => errorReply(503))
      return Effect.gen(function* () {
        const { result, attempts } = yield* runTraced()
        assert.strictEqual(sent.length, 4)
        assert.strictEqual(attempts.length, 4)
        const error = Either.getLeft(result)
        assert.isTrue(error._tag === "Some" && error.value._tag === "AllRegionsFailed")
        if (error._tag === "Some" && error.value._tag === "AllRegionsFailed") {
          assert.deepStrictEqual(error.value.attempts, attempts)
          assert.deepStrictEqual(
            attempts.map((a) => [a.region, a.attempt, a.status]),
            [
              ["eu", 1, 503],
              ["eu", 2, 503],
              ["na", 3, 503],
              ["na", 4, 503]
            ]
          )
        }
      }).pipe(Effect.provide(layer))
    }
  )

  it.effect("a per-call maximum is honoured", () => {
    const { sent, layer } = clientLayer(() => "refused")
    return Effect.gen(function* () {
      yield* runTraced({ maxAttempts: 2 })
      assert.strictEqual(sent.length, 2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the deadline is never exceeded, counting the waits (slow failures everywhere)", () => {
    // Every attempt hangs until its timeout: 10 s each would need 40 s for 4 attempts; the deadline is 30 s.
    const { sent, layer } = clientLayer(() => "hang", { maxAttempts: 10 })
    return Effect.gen(function* () {
      const { result, endedAt, attempts } = yield* runTraced()
      assert.isAtMost(endedAt, 30_000)
      assert.isTrue(sent.every((s) => s.at < 30_000))
      assert.isTrue(Either.isLeft(result))
      const last = attempts.at(-1)
      assert.strictEqual(last?.outcome, "timeout")
      const total = attempts.reduce((sum, a) => sum + a.ms, 0)
      assert.isAtMost(total, 30_000)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the deadline is never slept past: a backoff that would cross it is not taken", () => {
    // 503s with long hints, pinned: the waits grow until the next one would cross the deadline.
    const { sent, layer } = clientLayer(() => errorReply(503, undefined, { "retry-after": "12" }), {
      maxAttempts: 10,
      regionPolicy: "pinned"
    })
    return Effect.gen(function* () {
      const { result, endedAt } = yield* runTraced()
      // Attempts at 0, 12 s, 24 s; a fourth would be at 36 s, past the 30 s deadline, so the call stops at 24 s.
      assert.deepStrictEqual(
        sent.map((s) => s.at),
        [0, 12_000, 24_000]
      )
      assert.strictEqual(endedAt, 24_000)
      assert.isTrue(Either.isLeft(result))
    }).pipe(Effect.provide(layer))
  })

  it.effect(
    "a per-call deadline shorter than the attempt timeout cuts the attempt as a deadline timeout",
    () => {
      const { layer } = clientLayer(() => "hang")
      return Effect.gen(function* () {
        const { result, endedAt } = yield* runTraced({ deadline: "2 seconds" })
        assert.strictEqual(endedAt, 2000)
        const error = Either.getLeft(result)
        assert.isTrue(error._tag === "Some" && error.value._tag === "Timeout")
        if (error._tag === "Some" && error.value._tag === "Timeout")
          assert.strictEqual(error.value.scope, "deadline")
      }).pipe(Effect.provide(layer))
    }
  )

  it.effect("backoff grows min(500 ms x 2^n, 8 s) with jitter between same-region retries", () => {
    const { sent, layer } = clientLayer(() => errorReply(503), {
      regionPolicy: "pinned",
      maxAttempts: 7,
      deadline: "120 seconds"
    })
    return Effect.gen(function* () {
      yield* runTraced()
      const gaps = sent.slice(1).map((s, i) => s.at - sent[i]!.at)
      const ceilings = [500, 1000, 2000, 4000, 8000, 8000]
      assert.strictEqual(gaps.length, ceilings.length)
      gaps.forEach((gap, i) => {
        assert.isAtLeast(gap, ceilings[i]! / 2)
        assert.isAtMost(gap, ceilings[i]!)
      })
    }).pipe(Effect.provide(layer))
  })
})

describe("circuit breaker", () => {
  it.effect(
    "opens after 5 consecutive failures, routes to the healthy region, probes after the cool-down",
    () => {
      let euUp = false
      const { sent, layer } = clientLayer((region) => (region === "eu" && !euUp ? "refused" : ok()))
      return Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        const convocore = yield* Convocore
        // Connect failures fail over at once, so these calls take no time on the test clock.
        for (let i = 0; i < 5; i++) {
          const { attempts } = yield* convocore.getConversationWithTrail(ref)
          assert.deepStrictEqual(outline(attempts), ["eu:connect-failed", "na:ok"])
        }
        assert.strictEqual((yield* breaker.state("eu"))._tag, "Open")
        const euBefore = sent.filter((s) => s.region === "eu").length
        for (let i = 0; i < 3; i++) {
          const open = yield* convocore.getConversationWithTrail(ref)
          assert.deepStrictEqual(outline(open.attempts), ["eu:circuit-open", "na:ok"])
        }
        assert.strictEqual(
          sent.filter((s) => s.region === "eu").length,
          euBefore,
          "no request to the open region"
        )

        euUp = true
        yield* TestClock.adjust("30 seconds")
        const probe = yield* convocore.getConversationWithTrail(ref)
        assert.deepStrictEqual(outline(probe.attempts), ["eu:ok"])
        assert.strictEqual((yield* breaker.state("eu"))._tag, "Closed")
        assert.deepStrictEqual(outline((yield* convocore.getConversationWithTrail(ref)).attempts), ["eu:ok"])
      }).pipe(Effect.provide(layer))
    }
  )

  it.effect("a failed probe reopens with a doubled cool-down; one probe at a time", () => {
    const { layer } = clientLayer((region) => (region === "eu" ? "refused" : ok()))
    return Effect.gen(function* () {
      const breaker = yield* CircuitBreaker
      const convocore = yield* Convocore
      for (let i = 0; i < 5; i++) yield* convocore.getConversationWithTrail(ref)
      const opened = yield* breaker.state("eu")
      assert.deepStrictEqual(opened, { _tag: "Open", until: 30_000, cooldownMs: 30_000 })

      yield* TestClock.adjust("29 seconds")
      assert.deepStrictEqual(outline((yield* convocore.getConversationWithTrail(ref)).attempts), [
        "eu:circuit-open",
        "na:ok"
      ])
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* breaker.acquire("eu"), "probe")
      assert.strictEqual(yield* breaker.acquire("eu"), "open", "a second caller does not get a probe")
      yield* breaker.record("eu", "failure")
      assert.deepStrictEqual(yield* breaker.state("eu"), { _tag: "Open", until: 90_000, cooldownMs: 60_000 })
    }).pipe(Effect.provide(layer))
  })

  it.effect("cool-down doubling stops at 5 minutes", () => {
    const { layer } = clientLayer(() => ok())
    return Effect.gen(function* () {
      const breaker = yield* CircuitBreaker
      for (let i = 0; i < 5; i++) yield* breaker.record("na", "failure")
      const cooldowns: Array<number> = []
      for (let i = 0; i < 6; i++) {
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual(yield* breaker.acquire("na"), "probe")
        yield* breaker.record("na", "failure")
        const state = yield* breaker.state("na")
        if (state._tag === "Open") cooldowns.push(state.cooldownMs)
      }
      assert.deepStrictEqual(cooldowns, [60_000, 120_000, 240_000, 300_000, 300_000, 300_000])
    }).pipe(Effect.provide(layer))
  })

  it.effect("with both regions open, the preferred one is tried", () => {
    const { sent, layer } = clientLayer(() => "refused", { maxAttempts: 1 })
    return Effect.gen(function* () {
      const breaker = yield* CircuitBreaker
      for (let i = 0; i < 5; i++) {
        yield* breaker.record("eu", "failure")
        yield* breaker.record("na", "failure")
      }
      yield* Convocore.use((c) => c.getConversationWithTrail(ref))
      assert.deepStrictEqual(
        sent.map((s) => s.region),
        ["eu"]
      )
    }).pipe(Effect.provide(layer))
  })
})

describe("region policies", () => {
  it.effect("pinned never touches the other region", () => {
    const { sent, layer } = clientLayer((region) => (region === "na" ? "refused" : ok()), { region: "na" })
    return Effect.gen(function* () {
      const { result, attempts } = yield* runTraced({ regionPolicy: "pinned" })
      assert.isTrue(sent.length > 1)
      assert.isTrue(sent.every((s) => s.region === "na"))
      assert.isTrue(attempts.every((a) => a.region === "na"))
      assert.strictEqual(Either.isLeft(result) ? result.left._tag : "ok", "TransportError")
    }).pipe(Effect.provide(layer))
  })

  it.effect("pinned by configuration, with the EU breaker open, still never leaves EU", () => {
    const { sent, layer } = clientLayer((region) => (region === "eu" ? errorReply(503) : ok()), {
      regionPolicy: "pinned"
    })
    return Effect.gen(function* () {
      const breaker = yield* CircuitBreaker
      for (let i = 0; i < 5; i++) yield* breaker.record("eu", "failure")
      yield* runTraced()
      assert.isTrue(sent.length > 0)
      assert.isTrue(sent.every((s) => s.region === "eu"))
    }).pipe(Effect.provide(layer))
  })

  it.effect("failover: a 404 is final (data is stored per region)", () => {
    const { sent, layer } = clientLayer((region) => (region === "eu" ? errorReply(404, "NOT_FOUND") : ok()))
    return Effect.gen(function* () {
      const { result } = yield* runTraced()
      assert.strictEqual(Either.isLeft(result) ? result.left._tag : "ok", "NotFound")
      assert.deepStrictEqual(
        sent.map((s) => s.region),
        ["eu"]
      )
    }).pipe(Effect.provide(layer))
  })

  it.effect("auto finds the agent's region after a 404 and remembers it", () => {
    const { sent, layer } = clientLayer((region) => (region === "eu" ? errorReply(404, "NOT_FOUND") : ok()), {
      regionPolicy: "auto"
    })
    return Effect.gen(function* () {
      const first = yield* runTraced()
      assert.isTrue(Either.isRight(first.result))
      assert.deepStrictEqual(outline(first.attempts), ["eu:not-found", "na:ok"])
      const second = yield* runTraced({}, { agentId: ref.agentId, convoId: "another" })
      assert.deepStrictEqual(outline(second.attempts), ["na:ok"])
      // Another agent still starts at the configured region.
      const other = yield* runTraced({}, { agentId: "someone-else", convoId: "x" })
      assert.strictEqual(other.attempts[0]?.region, "eu")
      assert.deepStrictEqual(
        sent.map((s) => s.region),
        ["eu", "na", "na", "eu", "na"]
      )
    }).pipe(Effect.provide(layer))
  })

  it.effect("auto: a 404 in both regions is a NotFound", () => {
    const { sent, layer } = clientLayer(() => errorReply(404, "NOT_FOUND"), { regionPolicy: "auto" })
    return Effect.gen(function* () {
      const { result } = yield* runTraced()
      assert.strictEqual(Either.isLeft(result) ? result.left._tag : "ok", "NotFound")
      assert.strictEqual(sent.length, 2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a single base URL has no failover and targets `custom`", () => {
    const { sent, layer } = clientLayer(() => "refused", { baseUrl: "http://localhost:5000/v3" })
    return Effect.gen(function* () {
      const { attempts } = yield* runTraced()
      assert.isTrue(sent.every((s) => s.url.host === "localhost:5000"))
      assert.isTrue(attempts.every((a) => a.region === "custom"))
      assert.strictEqual(sent.length, 4)
    }).pipe(Effect.provide(layer))
  })
})

describe("hedging", () => {
  it.effect(
    "after the delay the other region races; the winner's answer returns and the loser is interrupted",
    () => {
      const { sent, layer } = clientLayer((region) => (region === "eu" ? "hang" : ok()), {
        hedgeDelay: "200 millis"
      })
      return Effect.gen(function* () {
        const { result, attempts, endedAt } = yield* runTraced()
        assert.isTrue(Either.isRight(result))
        assert.strictEqual(endedAt, 200)
        assert.deepStrictEqual(outline(attempts), ["na:ok", "eu:interrupted"])
        assert.isTrue(sent.find((s) => s.region === "eu")?.interrupted)
      }).pipe(Effect.provide(layer))
    }
  )

  it.effect("a fast answer cancels the hedge before it is sent", () => {
    const { sent, layer } = clientLayer(() => ok(), { hedgeDelay: "200 millis" })
    return Effect.gen(function* () {
      const { attempts } = yield* runTraced()
      assert.deepStrictEqual(outline(attempts), ["eu:ok"])
      assert.strictEqual(sent.length, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect(
    "adaptive: the delay follows the region's recent answer times, so a region that hangs is raced soon",
    () => {
      let hanging = false
      const slowThenHanging = clientLayer(
        (region) => (request) =>
          region === "eu" && hanging
            ? Effect.never
            : Effect.as(Effect.sleep("80 millis"), HttpClientResponse.fromWeb(request, ok())),
        { hedgeDelay: "adaptive" }
      )
      return Effect.gen(function* () {
        // Before 20 answers the delay is the initial 500 ms; these 20 each take 80 ms.
        for (let i = 0; i < 20; i++) yield* runTraced()
        hanging = true
        const { result, attempts, endedAt } = yield* Effect.flatMap(Clock.currentTimeMillis, (start) =>
          Effect.map(runTraced(), (traced) => ({ ...traced, endedAt: traced.endedAt - start }))
        )
        assert.isTrue(Either.isRight(result))
        assert.deepStrictEqual(outline(attempts), ["na:ok", "eu:interrupted"])
        // Raced after EU's 95th percentile (80 ms), answered 80 ms later: not after a 500 ms or 10 s wait.
        assert.strictEqual(endedAt, 160)
      }).pipe(Effect.provide(slowThenHanging.layer))
    }
  )
})

describe("what reaches the transport", () => {
  it.effect("a GET to the region's base URL, bearer auth, the package's User-Agent, JSON accepted", () => {
    const { sent, layer } = clientLayer(() => ok())
    return Effect.gen(function* () {
      yield* runTraced()
      const [request] = sent
      assert.strictEqual(request?.request.method, "GET")
      assert.strictEqual(request?.url.toString(), "https://eu.test/v3/agents/agent123/convos/convo456")
      assert.strictEqual(request?.request.headers.authorization, `Bearer ${SECRET}`)
      assert.strictEqual(request?.request.headers["user-agent"], userAgent)
      assert.match(userAgent, /^convocore-effect\/\d+\.\d+\.\d+/)
      assert.strictEqual(request?.request.headers.accept, "application/json")
    }).pipe(Effect.provide(layer))
  })

  const awkward = [
    "a/b",
    "what?x=1",
    "frag#ment",
    "100%",
    "with space",
    "../../admin",
    "..%2F",
    "héllo-日本",
    "+1 555 0100"
  ]
  it.effect("ids reach the transport percent-encoded, each as exactly one path segment", () => {
    const { sent, layer } = clientLayer(() => ok())
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      for (const id of awkward) {
        const result = yield* Effect.either(convocore.getConversation({ agentId: id, convoId: id }))
        assert.isTrue(Either.isRight(result), id)
      }
      assert.strictEqual(sent.length, awkward.length)
      sent.forEach((s, i) => {
        const id = awkward[i]!
        assert.strictEqual(s.url.search, "")
        assert.strictEqual(s.url.hash, "")
        const segments = s.url.pathname.split("/")
        assert.strictEqual(segments.length, 6, s.url.pathname)
        assert.deepStrictEqual(
          segments.map((segment) => decodeURIComponent(segment)),
          ["", "v3", "agents", id, "convos", id]
        )
      })
    }).pipe(Effect.provide(layer))
  })

  const refused = ["", "\u0000", "a\nb", "tab\there", "del\u007f", ".", ".."]
  it.effect("empty ids, control characters and dot segments fail as InvalidInput, nothing sent", () => {
    const { sent, layer } = clientLayer(() => ok())
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      for (const id of refused) {
        for (const [agentId, convoId, field] of [
          [id, "ok", "agentId"],
          ["ok", id, "convoId"]
        ] as const) {
          const traced = yield* convocore.getConversationWithTrail({ agentId, convoId })
          const error = Either.getLeft(traced.result)
          assert.isTrue(error._tag === "Some" && error.value._tag === "InvalidInput", JSON.stringify(id))
          if (error._tag === "Some" && error.value._tag === "InvalidInput")
            assert.strictEqual(error.value.field, field)
          assert.deepStrictEqual(traced.attempts, [])
        }
      }
      assert.strictEqual(sent.length, 0)
    }).pipe(Effect.provide(layer))
  })

  it.effect(
    "a body stream that fails while reading is a truncated body; pinned, it ends as InvalidResponse",
    () => {
      const broken = () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(JSON.stringify(seedExampleResponse).slice(0, 30)))
              controller.error(new Error("other side closed"))
            }
          }),
          { headers: { "content-type": "application/json" } }
        )
      const { sent, layer } = clientLayer(() => broken(), { regionPolicy: "pinned", maxAttempts: 2 })
      return Effect.gen(function* () {
        const { result, attempts } = yield* runTraced()
        assert.strictEqual(sent.length, 2)
        assert.deepStrictEqual(outline(attempts), ["eu:invalid-response", "eu:invalid-response"])
        const error = Either.getLeft(result)
        assert.isTrue(error._tag === "Some" && error.value._tag === "InvalidResponse")
        if (error._tag === "Some" && error.value._tag === "InvalidResponse")
          assert.strictEqual(error.value.reason, "truncated")
      }).pipe(Effect.provide(layer))
    }
  )
})

describe("concurrent calls share one breaker", () => {
  it.effect("failures from concurrent calls add up in the same region", () => {
    const { layer } = clientLayer((region) => (region === "eu" ? "refused" : ok()))
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const fiber = yield* Effect.fork(
        Effect.forEach([1, 2, 3, 4, 5], () => convocore.getConversation(ref), { concurrency: "unbounded" })
      )
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* (yield* CircuitBreaker).state("eu"))._tag, "Open")
    }).pipe(Effect.provide(layer))
  })
})
