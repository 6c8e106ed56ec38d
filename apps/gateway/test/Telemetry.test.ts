import * as Telemetry from "@convocore-effect/client/Telemetry"
import * as OtlpReceiver from "@convocore-effect/sandbox/OtlpReceiver"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cacheLayerOf } from "../src/RequestTelemetry.js"
import { bearer, demoKey, seedPath, startStack } from "./services/Stack.js"

describe("telemetry", () => {
  for (const protocol of ["http/json", "http/protobuf"] as const) {
    it.scopedLive(`a miss exports its request span parenting the upstream call, over ${protocol}`, () =>
      Effect.gen(function* () {
        const receiver = yield* OtlpReceiver.make
        yield* Effect.gen(function* () {
          const stack = yield* startStack()
          yield* stack.setFaults({ eu: "down" })
          assert.strictEqual((yield* stack.get(seedPath, bearer(demoKey))).status, 200)
          // The second is a hit, answered by the fast path: no span, but counted.
          assert.strictEqual((yield* stack.get(seedPath, bearer(demoKey))).status, 200)
        }).pipe(
          Effect.scoped,
          Effect.provide(
            Telemetry.layer({
              tracesUrl: `${receiver.url}/v1/traces`,
              metricsUrl: `${receiver.url}/v1/metrics`,
              protocol,
              serviceName: "gateway-under-test"
            })
          )
        )
        const spans = receiver.spans()
        const requests = spans.filter((span) => span.name === "http.server GET")
        assert.strictEqual(requests.length, 1, spans.map((span) => span.name).join(", "))
        const request = requests[0]
        assert.strictEqual(request?.kind, 2)
        assert.strictEqual(request?.resource["service.name"], "gateway-under-test")
        assert.strictEqual(request?.attributes["http.route"], "/v3/agents/:agentId/convos/:convoId")
        assert.strictEqual(request?.attributes["convocore.cache.layer"], "upstream")
        assert.include(String(request?.attributes["convocore.cache.status"]), "fwd=miss")
        assert.strictEqual(request?.attributes["http.response.status_code"], 200)
        const upstream = spans.find((span) => span.name === "Convocore.getConversationEnvelope")
        assert.strictEqual(upstream?.parentSpanId, request?.spanId)
        assert.strictEqual(upstream?.traceId, request?.traceId)
        const attempts = spans.filter((span) => span.parentSpanId === upstream?.spanId)
        assert.deepStrictEqual(
          attempts.map((span) => span.attributes["convocore.region"]),
          ["eu", "na"]
        )
        const bodies = receiver.bodies()
        const metrics = bodies
          .filter((body) => body.path === "/v1/metrics")
          .map((body) => Buffer.from(body.bytes))
        assert.isTrue(metrics.some((bytes) => bytes.includes("convocore.gateway.cache.results")))
        if (protocol === "http/json")
          assert.isTrue(metrics.some((bytes) => bytes.includes('"key":"layer","value":{"stringValue":"l1"}')))
        for (const body of bodies)
          assert.isFalse(Buffer.from(body.bytes).includes(demoKey), `${body.path} carries the caller's token`)
      })
    )
  }

  it("names the layer that answered from the Cache-Status", () => {
    assert.strictEqual(cacheLayerOf("convocore-gateway; hit; ttl=12"), "l1")
    assert.strictEqual(cacheLayerOf("convocore-gateway; fwd=miss; stored; ttl=30"), "upstream")
    assert.strictEqual(cacheLayerOf("convocore-gateway; fwd=miss; collapsed"), "coalesced")
    assert.strictEqual(
      cacheLayerOf("convocore-gateway; fwd=stale; fwd-status=503; ttl=-40; detail=stale-if-error"),
      "l1-stale"
    )
    assert.strictEqual(cacheLayerOf("convocore-gateway; hit; ttl=12; detail=l1"), "l1")
    assert.strictEqual(cacheLayerOf("convocore-gateway; hit; ttl=12; detail=l2"), "l2")
    assert.strictEqual(cacheLayerOf("convocore-gateway; hit; ttl=30; detail=l2-wait"), "l2")
    assert.strictEqual(
      cacheLayerOf("convocore-gateway; fwd=stale; ttl=-3; detail=stale-while-revalidate"),
      "l1-stale"
    )
    assert.strictEqual(cacheLayerOf("convocore-gateway; fwd=miss; detail=only-if-cached"), undefined)
    assert.strictEqual(cacheLayerOf(undefined), undefined)
  })
})
