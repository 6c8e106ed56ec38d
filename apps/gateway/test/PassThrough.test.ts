/**
 * A drop-in for the whole API: a client written for Convocore (not ours: plain fetch against a base URL,
 * as the public MCP server's client does) works through the gateway for every route, and in own-key mode
 * the gateway's key reaches only the routes the operator allowed.
 */
import { Fixtures } from "@convocore-effect/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { allows } from "../src/PassThrough.js"
import { demoKey, startStack } from "./services/Stack.js"

/** A minimal Convocore client of the kind users already have: a base URL, a key, fetch. */
const foreignClient = (baseUrl: string, key: string) => {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: response.status, text: await response.text() }
  }
  return {
    listConversations: (agentId: string) => call("GET", `/agents/${agentId}/convos?limit=5`),
    getConversation: (agentId: string, convoId: string) =>
      call("GET", `/agents/${agentId}/convos/${convoId}`),
    call
  }
}

describe("the gateway as a drop-in for every route", () => {
  it.scopedLive(
    "a foreign client lists and then reads conversations through the gateway, byte for byte",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack()
        const through = foreignClient(`${stack.gateway.url}/v3`, demoKey)
        const direct = foreignClient(stack.listening.urls.eu, demoKey)
        const listed = yield* Effect.promise(() => through.listConversations(Fixtures.demoAgent))
        const listedDirect = yield* Effect.promise(() => direct.listConversations(Fixtures.demoAgent))
        assert.strictEqual(listed.status, 200)
        assert.strictEqual(listed.text, listedDirect.text)
        const first = (JSON.parse(listed.text) as { data: Array<{ ID: string }> }).data[0]
        assert.isDefined(first)
        const document = yield* Effect.promise(() => through.getConversation(Fixtures.demoAgent, first!.ID))
        assert.strictEqual(document.status, 200)
        assert.strictEqual((JSON.parse(document.text) as { data: { ID: string } }).data.ID, first!.ID)
      })
  )

  it.scopedLive("other methods and routes reach the upstream and its answer comes back as it was", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const through = foreignClient(`${stack.gateway.url}/v3`, demoKey)
      const direct = foreignClient(stack.listening.urls.eu, demoKey)
      for (const [method, path] of [
        ["POST", `/agents/${Fixtures.demoAgent}/convos/c1/messages`],
        ["DELETE", `/agents/${Fixtures.demoAgent}/convos/c1`],
        ["GET", "/no/such/route"]
      ] as const) {
        const body = method === "POST" ? { text: "hello" } : undefined
        const a = yield* Effect.promise(() => through.call(method, path, body))
        const b = yield* Effect.promise(() => direct.call(method, path, body))
        assert.strictEqual(a.status, b.status, `${method} ${path}`)
        assert.strictEqual(a.text, b.text, `${method} ${path}`)
      }
    })
  )
})

describe("own-key mode", () => {
  const callerToken = "caller-token-0123456789abcdef"

  it.scopedLive(
    "passes on the served read routes and the allowed ones only; the rest is 403 with no upstream call",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({
          gateway: {
            callerTokens: Redacted.make(callerToken),
            apiKeySet: true,
            allowRoutes: "POST /v3/agents/*/convos/*/messages"
          },
          client: { apiKey: demoKey }
        })
        const through = foreignClient(`${stack.gateway.url}/v3`, callerToken)
        assert.strictEqual(
          (yield* Effect.promise(() => through.listConversations(Fixtures.demoAgent))).status,
          200
        )
        const before = yield* stack.upstreamRequests
        const refused = yield* Effect.promise(() =>
          through.call("DELETE", `/agents/${Fixtures.demoAgent}/convos/c1`)
        )
        assert.strictEqual(refused.status, 403)
        assert.strictEqual(JSON.parse(refused.text).code, "FORBIDDEN")
        assert.strictEqual(yield* stack.upstreamRequests, before, "a refused route is never sent")
        const allowed = yield* Effect.promise(() =>
          through.call("POST", `/agents/${Fixtures.demoAgent}/convos/c1/messages`, { text: "hi" })
        )
        assert.notStrictEqual(allowed.status, 403)
        assert.strictEqual(yield* stack.upstreamRequests, before + 1)
        const stranger = foreignClient(`${stack.gateway.url}/v3`, demoKey)
        assert.strictEqual(
          (yield* Effect.promise(() => stranger.listConversations(Fixtures.demoAgent))).status,
          401
        )
      })
  )

  it("route patterns: * is one segment, ** the rest, the method must match", () => {
    const pattern = { method: "GET", path: "/v3/agents/*/convos" }
    assert.isTrue(allows(pattern, "GET", "/v3/agents/a1/convos"))
    assert.isFalse(allows(pattern, "POST", "/v3/agents/a1/convos"))
    assert.isFalse(allows(pattern, "GET", "/v3/agents/a1/convos/c1"))
    assert.isFalse(allows(pattern, "GET", "/v3/agents/convos"))
    assert.isTrue(allows({ method: "*", path: "/v3/agents/**" }, "DELETE", "/v3/agents/a1/convos/c1"))
  })
})
