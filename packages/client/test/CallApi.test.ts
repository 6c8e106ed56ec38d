/**
 * The call API an app uses directly: per-call credentials and headers, any GET by path, query and
 * decoder, and the answer as received beside the value and on every error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Redacted, TestClock } from "effect"
import { CircuitBreaker, Convocore, ConvocoreConfig, ResilientHttpClient } from "../src/index.js"
import { runTraced } from "./services/Run.js"
import {
  clientLayer,
  errorReply,
  euUrl,
  json,
  makeTransport,
  naUrl,
  ok,
  SECRET
} from "./services/ScriptedTransport.js"

const utf8 = new TextDecoder()

describe("per-call credentials and headers", () => {
  it.effect("a call's token replaces the configured key for that call only; its headers are sent", () => {
    const { sent, layer } = clientLayer(() => ok())
    return Effect.gen(function* () {
      yield* runTraced({ credentials: Redacted.make("caller-token"), headers: { "x-request-id": "rid-7" } })
      yield* runTraced()
      assert.strictEqual(sent[0]?.request.headers.authorization, "Bearer caller-token")
      assert.strictEqual(sent[0]?.request.headers["x-request-id"], "rid-7")
      assert.strictEqual(sent[1]?.request.headers.authorization, `Bearer ${SECRET}`)
      assert.isUndefined(sent[1]?.request.headers["x-request-id"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("the call's token and headers go with every attempt, failover included", () => {
    const { sent, layer } = clientLayer((region) => (region === "eu" ? "refused" : ok()))
    return Effect.gen(function* () {
      yield* runTraced({ credentials: Redacted.make("caller-token"), headers: { "x-request-id": "rid-8" } })
      assert.deepStrictEqual(
        sent.map((s) => [s.region, s.request.headers.authorization, s.request.headers["x-request-id"]]),
        [
          ["eu", "Bearer caller-token", "rid-8"],
          ["na", "Bearer caller-token", "rid-8"]
        ]
      )
    }).pipe(Effect.provide(layer))
  })
})

describe("a client with no key of its own (a proxy forwarding its callers' tokens)", () => {
  const keyless = () => {
    const transport = makeTransport(() => ok())
    const layer = Convocore.DefaultWithoutDependencies.pipe(
      Layer.provideMerge(ResilientHttpClient.DefaultWithoutDependencies),
      Layer.provideMerge(CircuitBreaker.Default),
      Layer.provideMerge(transport.layer),
      Layer.provideMerge(
        Layer.effect(ConvocoreConfig, ConvocoreConfig.make({ euUrl, naUrl }, { keyRequired: false }))
      ),
      Layer.orDie
    )
    return { sent: transport.sent, layer }
  }

  it.effect("sends each call's own credentials, and refuses a call without any before sending", () => {
    const { sent, layer } = keyless()
    return Effect.gen(function* () {
      const withToken = yield* runTraced({ credentials: Redacted.make("caller-token") })
      assert.isTrue(Either.isRight(withToken.result))
      assert.strictEqual(sent[0]?.request.headers.authorization, "Bearer caller-token")
      const without = yield* runTraced()
      assert.strictEqual(Either.isLeft(without.result) ? without.result.left._tag : "ok", "InvalidInput")
      assert.strictEqual(sent.length, 1, "nothing was sent for the call without credentials")
    }).pipe(Effect.provide(layer))
  })

  it.effect("the key is still required unless the configuration says otherwise", () =>
    Effect.gen(function* () {
      const refused = yield* Effect.either(ConvocoreConfig.make({ euUrl, naUrl }))
      assert.isTrue(Either.isLeft(refused))
    })
  )
})

describe("the answer as received", () => {
  // Pretty-printed, keys in an unusual order: a re-encoding of the decoded value would not give these bytes.
  const body = '{\n  "message": "ok",\n  "success": true,\n  "data": { "ID": "c1", "messagesNum": 1.0 }\n}'

  it.effect("beside the value: the exact bytes, status, headers and region", () => {
    const { layer } = clientLayer(
      () => new Response(body, { headers: { "content-type": "application/json", "x-request-id": "up-1" } })
    )
    return Effect.gen(function* () {
      const { result, response } = yield* runTraced()
      assert.isTrue(Either.isRight(result))
      assert.strictEqual(utf8.decode(response?.body), body)
      assert.strictEqual(response?.status, 200)
      assert.strictEqual(response?.headers["x-request-id"], "up-1")
      assert.strictEqual(response?.region, "eu")
    }).pipe(Effect.provide(layer))
  })

  it.effect("beside an error the upstream answered: that answer's bytes", () => {
    const { layer } = clientLayer(() => errorReply(403, "FORBIDDEN"))
    return Effect.gen(function* () {
      const { result, response } = yield* runTraced()
      assert.strictEqual(Either.isLeft(result) ? result.left._tag : "ok", "Forbidden")
      assert.strictEqual(response?.status, 403)
      assert.deepStrictEqual(JSON.parse(utf8.decode(response?.body)), {
        message: "status 403",
        code: "FORBIDDEN"
      })
    }).pipe(Effect.provide(layer))
  })

  it.effect("no answer at all (every connection refused): no response", () => {
    const { layer } = clientLayer(() => "refused")
    return Effect.gen(function* () {
      const { result, response } = yield* runTraced()
      assert.strictEqual(Either.isLeft(result) ? result.left._tag : "ok", "AllRegionsFailed")
      assert.isUndefined(response)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the envelope variant passes an answer without data on as a success", () => {
    const { layer } = clientLayer(() => json(200, { success: true, message: "ok" }))
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const envelope = yield* convocore.getEnvelopeWithTrail({ agentId: "a", convoId: "c" })
      assert.deepStrictEqual(Either.getOrUndefined(envelope.result), { success: true, message: "ok" })
      const document = yield* convocore.getConversationWithTrail({ agentId: "a", convoId: "c" })
      assert.strictEqual(Either.isLeft(document.result) ? document.result.left._tag : "ok", "InvalidResponse")
    }).pipe(Effect.provide(layer))
  })
})

describe("any GET through the same resilient path", () => {
  it.effect("a path, a query and a decoder: retried and failed over like a conversation", () => {
    const { sent, layer } = clientLayer((region) =>
      region === "eu" ? errorReply(503) : json(200, { data: [1, 2], hasMore: false })
    )
    return Effect.gen(function* () {
      const client = yield* ResilientHttpClient
      const fiber = yield* Effect.fork(
        client.execute({
          path: "/agents/a1/convos",
          query: { limit: 20, cursor: "c 1", skipped: undefined },
          decode: (body) =>
            typeof body === "object" && body !== null && "data" in body && Array.isArray(body.data)
              ? Either.right(body.data.length)
              : Either.left({ path: "data", message: "no rows" })
        })
      )
      yield* TestClock.adjust("1 minute")
      const traced = yield* Fiber.join(fiber)
      assert.deepStrictEqual(traced.result, Either.right(2))
      assert.deepStrictEqual(
        sent.map((s) => [s.region, s.url.pathname, s.url.search]),
        [
          ["eu", "/v3/agents/a1/convos", "?limit=20&cursor=c+1"],
          ["eu", "/v3/agents/a1/convos", "?limit=20&cursor=c+1"],
          ["na", "/v3/agents/a1/convos", "?limit=20&cursor=c+1"]
        ]
      )
    }).pipe(Effect.provide(layer))
  })
})
