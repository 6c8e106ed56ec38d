import { createHash } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Redacted } from "effect"
import { tenantOf } from "../src/CallerAuth.js"
import { bearer, conversationPath, demoKey, seedPath, startStack } from "./services/Stack.js"

const tenantA = "vg_tenant_a_secret_0001"
const tenantB = "vg_tenant_b_secret_0002"

describe("forward mode (the default)", () => {
  it.scopedLive("refuses a request without a bearer token before any upstream call", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      for (const headers of [
        {},
        { authorization: "Bearer " },
        { authorization: "Bearer a b" },
        { authorization: `Basic ${btoa(`user:${demoKey}`)}` },
        { authorization: `Token ${demoKey}` }
      ]) {
        const answer = yield* stack.get(seedPath, headers)
        assert.strictEqual(answer.status, 401)
        assert.deepStrictEqual(answer.json(), {
          message: "Missing bearer token: send Authorization: Bearer <key>",
          code: "UNAUTHORIZED"
        })
        assert.strictEqual(answer.headers.get("www-authenticate"), 'Bearer realm="convocore-gateway"')
      }
      assert.strictEqual(yield* stack.upstreamRequests, 0)
    })
  )

  it.scopedLive("forwards the caller's token: the upstream's 401 comes back as it was sent", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const direct = yield* stack.direct(seedPath, bearer("vg_not_a_real_key"))
      const through = yield* stack.get(seedPath, bearer("vg_not_a_real_key"))
      assert.strictEqual(through.status, 401)
      assert.deepStrictEqual(through.bytes, direct.bytes)
      const ok = yield* stack.get(seedPath, bearer(demoKey))
      assert.strictEqual(ok.status, 200)
      // The scheme is case-insensitive (RFC 9110); the answer is the same tenant's cached copy.
      const lower = yield* stack.get(seedPath, { authorization: `bearer ${demoKey}` })
      assert.strictEqual(lower.status, 200)
      assert.match(lower.headers.get("cache-status") ?? "", /; hit;/)
    })
  )

  it.scopedLive("keeps tenants apart: token B never receives what token A cached", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ sandbox: { apiKeys: [tenantA, tenantB] } })
      const path = conversationPath("shared-convo")
      const a = yield* stack.get(path, bearer(tenantA))
      assert.match(a.headers.get("cache-status") ?? "", /stored/)
      const aAgain = yield* stack.get(path, bearer(tenantA))
      assert.match(aAgain.headers.get("cache-status") ?? "", /; hit;/)
      assert.strictEqual(yield* stack.upstreamRequests, 1)

      // B is asked for upstream with B's own token, not served A's copy.
      const b = yield* stack.get(path, bearer(tenantB))
      assert.strictEqual(b.status, 200)
      assert.match(b.headers.get("cache-status") ?? "", /^convocore-gateway; fwd=miss; stored/)
      assert.strictEqual(yield* stack.upstreamRequests, 2)

      // A token the upstream refuses gets the upstream's 401, even though the document is cached for A and B.
      const stranger = yield* stack.get(path, bearer("vg_revoked_or_foreign"))
      assert.strictEqual(stranger.status, 401)
      assert.notInclude(stranger.text, "shared-convo")
      assert.strictEqual(yield* stack.upstreamRequests, 3)
    })
  )
})

describe("the cache partition of a forwarded token", () => {
  it.prop(
    "is the first 32 hex digits of the token's SHA-256 (of its UTF-8 bytes)",
    [fc.string({ unit: "binary", maxLength: 80 })],
    ([token]) => {
      assert.strictEqual(
        tenantOf(token),
        createHash("sha256").update(token, "utf8").digest("hex").slice(0, 32)
      )
    },
    { fastCheck: { numRuns: 200, seed: 9 } }
  )
})

describe("own-key mode", () => {
  const callerToken = "caller-token-0123456789abcdef"

  it.scopedLive("serves configured callers, refuses everyone else, and never forwards their tokens", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({
        gateway: { callerTokens: Redacted.make(`${callerToken}, second-caller-token-xyz`), apiKeySet: true },
        client: { apiKey: demoKey }
      })
      assert.strictEqual(stack.settings.auth, "own-key")
      const ok = yield* stack.get(seedPath, bearer(callerToken))
      assert.strictEqual(ok.status, 200)
      const second = yield* stack.get(seedPath, bearer("second-caller-token-xyz"))
      assert.strictEqual(second.status, 200)
      // Every caller shares the one upstream identity, so they share the cache.
      assert.match(second.headers.get("cache-status") ?? "", /; hit;/)
      assert.strictEqual(yield* stack.upstreamRequests, 1)

      for (const token of [demoKey, "some-other-caller-token", `${callerToken}x`]) {
        const refused = yield* stack.get(seedPath, bearer(token))
        assert.strictEqual(refused.status, 401, token)
        assert.deepStrictEqual(refused.json(), { message: "Unknown caller token", code: "UNAUTHORIZED" })
      }
      const none = yield* stack.get(seedPath)
      assert.strictEqual(none.status, 401)
      assert.strictEqual(yield* stack.upstreamRequests, 1)
    })
  )

  it.scopedLive("purges the shared copy only for a configured caller", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({
        gateway: { callerTokens: Redacted.make(callerToken), apiKeySet: true },
        client: { apiKey: demoKey }
      })
      const purge = (headers: Record<string, string>) =>
        stack.via(0, `/cache${seedPath}`, { method: "DELETE", headers })
      yield* stack.get(seedPath, bearer(callerToken))
      for (const headers of [bearer(demoKey), bearer("some-other-caller-token"), {}]) {
        assert.strictEqual((yield* purge(headers)).status, 401)
        assert.match(
          (yield* stack.get(seedPath, bearer(callerToken))).headers.get("cache-status") ?? "",
          /; hit;/
        )
      }
      const purged = yield* purge(bearer(callerToken))
      assert.deepStrictEqual([purged.status, purged.json()], [200, { purged: true }])
      const after = yield* stack.get(seedPath, bearer(callerToken))
      assert.strictEqual(after.headers.get("cache-status"), "convocore-gateway; fwd=miss; stored; ttl=30")
      assert.strictEqual(yield* stack.upstreamRequests, 2)
    })
  )
})
