import { ConvocoreConfig } from "@convocore-effect/client"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted } from "effect"
import { GatewayConfig, type RawSettings, validate } from "../src/GatewayConfig.js"
import { GatewayMetrics } from "../src/GatewayMetrics.js"
import { currentRequestId } from "../src/Lifecycle.js"
import { Upstream } from "../src/Upstream.js"
import { nothingSet } from "./services/Stack.js"

const raw: RawSettings = nothingSet

// Pretty-printed, keys in an unusual order: a re-encoding of the decoded value would not give these bytes.
const body = '{\n  "message": "ok",\n  "success": true,\n  "data": { "ID": "c1", "messagesNum": 1.0 }\n}'

/** A transport double answering `body` and keeping every request it was sent. */
const recording = () => {
  const seen: Array<Readonly<Record<string, string>>> = []
  const layer = Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.sync(() => {
        seen.push(request.headers)
        return HttpClientResponse.fromWeb(
          request,
          new Response(body, {
            status: 200,
            headers: { "content-type": "application/json", "x-request-id": "up-7" }
          })
        )
      })
    )
  )
  return { seen, layer }
}

const upstreamLayer = (transport: Layer.Layer<HttpClient.HttpClient>) =>
  Layer.unwrapEffect(
    Effect.map(
      ConvocoreConfig.make({
        apiKey: "configured-key",
        euUrl: "http://eu.test/v3",
        naUrl: "http://na.test/v3"
      }),
      (settings) => Upstream.layerWith(settings, transport)
    )
  ).pipe(
    Layer.provide(GatewayMetrics.layer),
    Layer.provide(GatewayConfig.layer(Either.getOrThrow(validate(raw))))
  )

describe("Upstream", () => {
  it.effect("sends the caller's token and request id, and keeps the upstream's exact bytes", () => {
    const transport = recording()
    return Effect.gen(function* () {
      const upstream = yield* Upstream
      const result = yield* upstream
        .getConversation("agent 1", "c1", Redacted.make("caller-token"))
        .pipe(Effect.locally(currentRequestId, "rid-42"))
      assert.strictEqual(result._tag, "Document")
      if (result._tag !== "Document") return
      assert.strictEqual(new TextDecoder().decode(result.body), body)
      assert.strictEqual(result.region, "eu")
      assert.strictEqual(result.upstreamRequestId, "up-7")
      assert.strictEqual(transport.seen[0]?.authorization, "Bearer caller-token")
      assert.strictEqual(transport.seen[0]?.["x-request-id"], "rid-42")

      // Own-key mode passes no token: the client's configured key goes out.
      yield* upstream.getConversation("agent 1", "c1", undefined)
      assert.strictEqual(transport.seen[1]?.authorization, "Bearer configured-key")
    }).pipe(Effect.provide(upstreamLayer(transport.layer)))
  })
})
