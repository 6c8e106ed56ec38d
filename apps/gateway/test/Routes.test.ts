/**
 * What reaches the conversation route: ids as long as the contract allows, and short, clear refusals for
 * what cannot be an id (too long, broken percent-encoding), never the path echoed back.
 */

import { Fixtures } from "@convocore-effect/sandbox"
import { maxIdLength } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { routeOf } from "../src/Lifecycle.js"
import { bearer, conversationPath, demoKey, startStack } from "./services/Stack.js"

const auth = bearer(demoKey)

describe("conversation ids at the route", () => {
  it.scopedLive("ids up to the contract's length reach the upstream, plain or percent-encoded", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      for (const id of ["a".repeat(101), "b".repeat(maxIdLength), "é".repeat(maxIdLength)]) {
        const path = conversationPath(id)
        const direct = yield* stack.direct(path, auth)
        const through = yield* stack.get(path, auth)
        assert.strictEqual(through.status, direct.status, `${id.length} characters`)
        assert.deepStrictEqual(through.bytes, direct.bytes, `${id.length} characters`)
      }
    })
  )

  it.scopedLive(
    "a longer id, or broken percent-encoding, is a short 400 BAD_REQUEST, nothing sent upstream",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack()
        // Raw segments, as a client would put them in the URL (Node itself refuses request lines past 16 KB).
        for (const segment of [
          "x".repeat(maxIdLength + 1),
          "x".repeat(5_000),
          "bad%zzescape",
          "half%E2%82"
        ]) {
          const answer = yield* stack.get(`/v3/agents/${Fixtures.demoAgent}/convos/${segment}`, auth)
          assert.strictEqual(answer.status, 400, segment.slice(0, 20))
          const body = JSON.parse(answer.text) as { code: string; message: string }
          assert.strictEqual(body.code, "BAD_REQUEST")
          assert.isBelow(answer.text.length, 400, "the refusal does not echo the path")
        }
        assert.strictEqual(yield* stack.upstreamRequests, 0)
      })
  )
})

describe("caller cache directives (RFC 9111)", () => {
  it.scopedLive("only-if-cached: 504 on a miss with no upstream call; the cached entry once stored", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const path = conversationPath("only-if-cached-1")
      const miss = yield* stack.get(path, { ...auth, "cache-control": "only-if-cached" })
      assert.strictEqual(miss.status, 504)
      assert.strictEqual(JSON.parse(miss.text).code, "GATEWAY_TIMEOUT")
      assert.strictEqual(yield* stack.upstreamRequests, 0)
      const stored = yield* stack.get(path, auth)
      assert.strictEqual(stored.status, 200)
      const hit = yield* stack.get(path, { ...auth, "cache-control": "only-if-cached" })
      assert.strictEqual(hit.status, 200)
      assert.deepStrictEqual(hit.bytes, stored.bytes)
      assert.strictEqual(yield* stack.upstreamRequests, 1)
    })
  )
})

describe("route templates for metrics and request logs", () => {
  it("names every route the gateway serves, and nothing past a bounded set", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["/v3/agents/a1/convos/c1", "/v3/agents/:agentId/convos/:convoId"],
      ["/v3/agents/a1/convos", "/v3/agents/:agentId/convos"],
      ["/cache/v3/agents/a1/convos/c1", "/cache/v3/agents/:agentId/convos/:convoId"],
      ["/v3/agents/a1/convos/c1/messages", "pass-through"],
      ["/readyz", "/readyz"],
      ["/cache/v3/agents/a1", "unmatched"],
      ["/anything-else", "unmatched"]
    ]
    for (const [path, template] of cases) assert.strictEqual(routeOf(path), template, path)
  })
})
