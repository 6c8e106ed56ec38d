import { type Conversation, seedExampleResponse } from "@convocore-effect/schema"
import { HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Stream, TestClock } from "effect"
import { Convocore } from "../src/index.js"
import { clientLayer, errorReply, json, ok } from "./services/ScriptedTransport.js"

const document: Conversation = seedExampleResponse.data

describe("Convocore.getConversation", () => {
  it.effect("returns the decoded document, unknown keys kept", () => {
    const { layer } = clientLayer(() =>
      json(200, { ...seedExampleResponse, cached: true, data: { ...seedExampleResponse.data, brandNew: 1 } })
    )
    return Effect.gen(function* () {
      const conversation = yield* Convocore.use((c) =>
        c.getConversation({ agentId: "agent123", convoId: "convo456" })
      )
      assert.strictEqual(conversation.ID, "agent123_convo456")
      assert.strictEqual(conversation.brandNew, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("fails with one error of the union", () => {
    const { layer } = clientLayer(() => errorReply(404, "NOT_FOUND"))
    return Effect.gen(function* () {
      const error = yield* Effect.flip(
        Convocore.use((c) => c.getConversation({ agentId: "a", convoId: "b" }))
      )
      assert.strictEqual(error._tag, "NotFound")
    }).pipe(Effect.provide(layer))
  })

  it.effect("an envelope without data, or with success false, is an invalid response", () => {
    const { layer } = clientLayer((_, n) =>
      n === 1
        ? json(200, { success: true, message: "ok" })
        : json(200, { success: false, message: "nope", data: {} })
    )
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const first = yield* Effect.flip(convocore.getConversation({ agentId: "a", convoId: "b" }))
      assert.isTrue(first._tag === "InvalidResponse" && first.path === "data")
      const second = yield* Effect.flip(convocore.getConversation({ agentId: "a", convoId: "b" }))
      assert.isTrue(second._tag === "InvalidResponse" && second.path === "success")
    }).pipe(Effect.provide(layer))
  })
})

describe("Convocore.getConversations (stream)", () => {
  it.effect("one result per id, in input order; failures do not end the stream", () => {
    const { layer } = clientLayer((_, __, url) =>
      url.pathname.endsWith("/missing")
        ? errorReply(404, "NOT_FOUND")
        : url.pathname.endsWith("/broken")
          ? new Response("<html/>", { headers: { "content-type": "text/html" } })
          : ok()
    )
    const ids = ["one", "missing", "", "broken", "five"]
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      // "broken" is retried in both regions with backoff before it ends as an invalid response.
      const fiber = yield* Effect.fork(
        Stream.runCollect(
          convocore.getConversations("agent123", Stream.fromIterable(ids), { concurrency: 2 })
        )
      )
      yield* TestClock.adjust("1 minute")
      const results = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      assert.deepStrictEqual(
        results.map((r) => [r.convoId, Either.isRight(r.result) ? "ok" : r.result.left._tag]),
        [
          ["one", "ok"],
          ["missing", "NotFound"],
          ["", "InvalidInput"],
          ["broken", "InvalidResponse"],
          ["five", "ok"]
        ]
      )
      assert.strictEqual(results[0]?.attempts.length, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("concurrency is bounded", () => {
    let inFlight = 0
    let peak = 0
    // Each answer takes 100 ms of test time, so overlapping requests are really in flight together.
    const measured = clientLayer(
      () => (request) =>
        Effect.gen(function* () {
          inFlight++
          peak = Math.max(peak, inFlight)
          yield* Effect.sleep("100 millis")
          inFlight--
          return HttpClientResponse.fromWeb(request, ok())
        })
    )
    return Effect.gen(function* () {
      const convocore = yield* Convocore
      const ids = Array.from({ length: 20 }, (_, i) => `id-${i}`)
      const fiber = yield* Effect.fork(
        Stream.runCollect(
          convocore.getConversations("agent123", Stream.fromIterable(ids), {
            concurrency: 3,
            order: "completion"
          })
        )
      )
      yield* TestClock.adjust("10 seconds")
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(Chunk.size(results), 20)
      assert.strictEqual(peak, 3)
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(results)
          .map((r) => r.convoId)
          .sort(),
        [...ids].sort()
      )
    }).pipe(Effect.provide(measured.layer))
  })
})

describe("Convocore.layerMemory", () => {
  const documents = { agent123: { convo456: document } }

  it.effect("serves documents from a map, no sockets", () =>
    Effect.gen(function* () {
      const convocore = yield* Convocore
      const found = yield* convocore.getConversation({ agentId: "agent123", convoId: "convo456" })
      assert.strictEqual(found, document)
      const missing = yield* Effect.flip(convocore.getConversation({ agentId: "agent123", convoId: "nope" }))
      assert.isTrue(missing._tag === "NotFound" && missing.status === 404)
      const proto = yield* Effect.flip(
        convocore.getConversation({ agentId: "agent123", convoId: "constructor" })
      )
      assert.strictEqual(proto._tag, "NotFound")
      const invalid = yield* Effect.flip(convocore.getConversation({ agentId: "agent123", convoId: "" }))
      assert.strictEqual(invalid._tag, "InvalidInput")
      const traced = yield* convocore.getConversationWithTrail({ agentId: "agent123", convoId: "convo456" })
      assert.deepStrictEqual(traced.attempts, [
        { region: "eu", attempt: 1, outcome: "ok", status: 200, ms: 0 }
      ])
    }).pipe(Effect.provide(Convocore.layerMemory(documents)))
  )

  it.effect("accepts a Map too, and streams", () =>
    Effect.gen(function* () {
      const convocore = yield* Convocore
      const results = yield* Stream.runCollect(
        convocore.getConversations("agent123", Stream.make("convo456", "other"))
      )
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(results).map((r) => Either.isRight(r.result)),
        [true, false]
      )
    }).pipe(Effect.provide(Convocore.layerMemory(new Map([["agent123", new Map([["convo456", document]])]]))))
  )
})
