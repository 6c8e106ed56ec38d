/**
 * Listing against the in-process sandbox (a devDependency, for tests only: packages/client/turbo.json
 * keeps the client's build off the sandbox's): every page of an agent, resumed from a saved cursor,
 * every listed row served by the get route, and list pages and gets sharing one rate controller under the
 * sandbox's token bucket. The sandbox reads Effect's `Clock`, so TestClock drives its bucket too.
 */
import { Fixtures, Sandbox } from "@convocore-effect/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Layer, Stream, TestClock } from "effect"
import {
  CircuitBreaker,
  Convocore,
  ConvocoreConfig,
  type ConvocoreConfigInput,
  RateController,
  ResilientHttpClient
} from "../src/index.js"

const clientOverSandbox = (
  sandbox: Parameters<typeof Sandbox.layerInProcess>[0],
  config: Partial<ConvocoreConfigInput> = {}
) =>
  Layer.unwrapEffect(
    Effect.map(Sandbox.Endpoints, ({ urls }) =>
      Convocore.DefaultWithoutDependencies.pipe(
        Layer.provideMerge(ResilientHttpClient.DefaultWithoutDependencies),
        Layer.provideMerge(Layer.merge(CircuitBreaker.Default, RateController.Default)),
        Layer.provideMerge(
          ConvocoreConfig.layer({ apiKey: Fixtures.demoApiKey, euUrl: urls.eu, naUrl: urls.na, ...config })
        )
      )
    )
  ).pipe(Layer.provideMerge(Sandbox.layerInProcess(sandbox)), Layer.orDie)

/** Runs a stream to its end under the test clock. */
const collect = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(Stream.runCollect(stream))
    yield* TestClock.adjust("10 minutes")
    return Chunk.toReadonlyArray(yield* Fiber.join(fiber))
  })

describe("listing against the sandbox", () => {
  it.effect("every page of an agent, in order, resumable from any page's cursor; each row is served", () =>
    Effect.gen(function* () {
      const convocore = yield* Convocore
      const rows = yield* collect(convocore.listConversations("agent-big"))
      assert.strictEqual(rows.length, 45)
      assert.strictEqual(new Set(rows.map((r) => r.row.ID)).size, 45)
      const ts = rows.map((r) => r.row.ts ?? 0)
      assert.deepStrictEqual(
        ts,
        [...ts].sort((a, b) => b - a)
      )
      // Resuming at the second page's cursor gives exactly what followed it.
      const second = rows[20]!
      const resumed = yield* collect(convocore.listConversations("agent-big", { cursor: second.cursor }))
      assert.deepStrictEqual(
        resumed.map((r) => r.row.ID),
        rows.slice(20).map((r) => r.row.ID)
      )
      const documents = yield* collect(
        convocore.getConversations("agent-big", Stream.fromIterable(rows.map((r) => String(r.row.ID))))
      )
      assert.isTrue(documents.every((d) => Either.isRight(d.result) && d.result.right.ID === d.convoId))
    }).pipe(Effect.provide(clientOverSandbox({})))
  )

  it.effect("list pages and gets share the controller under the sandbox's token bucket: nothing fails", () =>
    Effect.gen(function* () {
      const convocore = yield* Convocore
      const exported = yield* collect(
        convocore.listConversations("agent-big", { regionPolicy: "pinned" }).pipe(
          Stream.mapEffect(
            (r) => convocore.getConversationWithTrail({ agentId: "agent-big", convoId: String(r.row.ID) }),
            {
              concurrency: 8
            }
          )
        )
      )
      assert.strictEqual(exported.length, 200)
      assert.isTrue(exported.every((d) => Either.isRight(d.result)))
      const stats = (yield* RateController).stats("eu")
      // 10 pages and 200 gets; the 429s were retried (the sandbox's Retry-After honoured) and few.
      assert.strictEqual(stats.accepted, 210)
      assert.isAbove(stats.throttled, 0)
      assert.isBelow(stats.throttled / stats.sent, 0.1)
      assert.isDefined(stats.rate)
    }).pipe(
      Effect.provide(
        clientOverSandbox(
          { conversationsPerAgent: 200, faults: { eu: "rate=50/s,burst=10" } },
          { regionPolicy: "pinned" }
        )
      )
    )
  )
})
