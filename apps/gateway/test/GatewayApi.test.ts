import { readFileSync } from "node:fs"
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { GatewayApi } from "../src/GatewayApi.js"
import { version } from "../src/version.js"
import { demoKey, startStack } from "./services/Stack.js"

describe("GatewayApi", () => {
  it("carries the package's version (the OpenAPI document and --version say it)", () => {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string
    }
    assert.strictEqual(version, manifest.version)
  })

  it.scopedLive("gives a typed client that reads the gateway's real answers", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const client = yield* HttpApiClient.make(GatewayApi, {
        baseUrl: stack.gateway.url,
        transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(demoKey))
      })
      const envelope = yield* client.conversations.getConversation({
        path: { agentId: "agent123", convoId: "convo456" }
      })
      assert.isTrue(envelope.success)
      assert.strictEqual(envelope.data?.ID, "agent123_convo456")
      assert.deepStrictEqual(yield* client.operations.healthz(), { status: "ok" })
      const readiness = yield* client.operations.readyz()
      assert.strictEqual(readiness.status, "ready")
      const missing = yield* Effect.flip(
        client.conversations.getConversation({ path: { agentId: "agent123", convoId: "not-found" } })
      )
      assert.include(JSON.stringify(missing), "NOT_FOUND")
    }).pipe(Effect.provide(FetchHttpClient.layer))
  )
})
