/**
 * The list route over real loopback HTTP: the sandbox behind the gateway, upstream calls counted by the
 * sandbox itself, and one pair of replicas sharing a real redis-server.
 */
import { Fixtures } from "@convocore-effect/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { listQueryOf } from "../src/ListPages.js"
import { redisAvailable, redisServer } from "./services/RedisServer.js"
import { bearer, demoKey, metricValue, startStack } from "./services/Stack.js"

const auth = bearer(demoKey)
const otherKey = "vg_sandbox_second_key"
const listPath = (query = "", agentId: string = Fixtures.demoAgent) =>
  `/v3/agents/${encodeURIComponent(agentId)}/convos${query}`
const stored = "convocore-gateway; fwd=miss; stored; ttl=5"

type Stack = Effect.Effect.Success<ReturnType<typeof startStack>>

/** The upstream calls an effect made, as the sandbox counted them. */
const callsDuring = <A>(stack: Stack, effect: Effect.Effect<A>) =>
  Effect.gen(function* () {
    const before = yield* stack.upstreamRequests
    const value = yield* effect
    return { value, calls: (yield* stack.upstreamRequests) - before }
  })

describe("the list query", () => {
  it("is read as the API reads it: parameters in whatever order, page=1 and limit=20 the defaults, limit clamped to 1..20", () => {
    const query = (search: string) => Either.getOrThrow(listQueryOf(search))
    assert.deepStrictEqual(query("?limit=5&cursor=abc&page=1"), query("?cursor=abc&limit=5"))
    assert.isUndefined(query("").cursor)
    assert.strictEqual(query("").limit, 20)
    assert.deepStrictEqual(query("?limit=20&page=1"), query(""))
    assert.strictEqual(query("?limit=50").limit, 20)
    assert.strictEqual(query("?limit=0").limit, 1)
    assert.strictEqual(query("?limit=2.5").limit, 2)
  })

  it("refuses unknown, repeated and unreadable parameters, naming them", () => {
    const fieldOf = (search: string) =>
      Either.match(listQueryOf(search), { onLeft: (e) => e.field, onRight: () => "accepted" })
    assert.strictEqual(fieldOf("?sort=asc"), "query")
    assert.strictEqual(fieldOf("?limit=5&limit=6"), "limit")
    assert.strictEqual(fieldOf("?limit=many"), "limit")
    assert.strictEqual(fieldOf("?limit="), "limit")
    assert.strictEqual(fieldOf("?page=2"), "page")
    assert.strictEqual(fieldOf("?cursor="), "cursor")
  })
})

describe("the list route", () => {
  it.scopedLive("a page is fetched once, then served from the cache with the upstream's exact bytes", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const direct = yield* stack.direct(listPath("?limit=2"), auth)
      const first = yield* callsDuring(stack, stack.get(listPath("?limit=2"), auth))
      assert.strictEqual(first.calls, 1)
      assert.strictEqual(first.value.status, 200)
      assert.strictEqual(first.value.headers.get("cache-status"), stored)
      assert.deepStrictEqual(first.value.bytes, direct.bytes)
      assert.strictEqual(first.value.headers.get("content-type"), direct.headers.get("content-type"))
      assert.strictEqual(first.value.headers.get("x-convocore-region"), "eu")

      // The same page, its parameters in another order and with the default page spelled out.
      const second = yield* callsDuring(stack, stack.get(listPath("?page=1&limit=2"), auth))
      assert.strictEqual(second.calls, 0)
      assert.match(second.value.headers.get("cache-status") ?? "", /^convocore-gateway; hit; ttl=\d+$/)
      assert.deepStrictEqual(second.value.bytes, direct.bytes)
      assert.isNotNull(second.value.headers.get("age"))
    })
  )

  it.scopedLive("different cursors, limits and tenants are different entries", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ sandbox: { apiKeys: [demoKey, otherKey] } })
      const firstPage = yield* stack.get(listPath("?limit=2"), auth)
      const { nextCursor } = firstPage.json() as { nextCursor: string }
      assert.isString(nextCursor)
      const next = `?cursor=${encodeURIComponent(nextCursor)}&limit=2`
      const secondPage = yield* callsDuring(stack, stack.get(listPath(next), auth))
      assert.strictEqual(secondPage.calls, 1)
      assert.strictEqual(secondPage.value.headers.get("cache-status"), stored)
      assert.deepStrictEqual(secondPage.value.bytes, (yield* stack.direct(listPath(next), auth)).bytes)
      assert.notDeepEqual(secondPage.value.bytes, firstPage.bytes)

      const otherLimit = yield* callsDuring(stack, stack.get(listPath("?limit=3"), auth))
      assert.strictEqual(otherLimit.calls, 1)
      const otherTenant = yield* callsDuring(stack, stack.get(listPath("?limit=2"), bearer(otherKey)))
      assert.strictEqual(otherTenant.calls, 1)
      assert.strictEqual(otherTenant.value.headers.get("cache-status"), stored)
      // Each is now a hit for its own tenant.
      const again = yield* callsDuring(
        stack,
        Effect.all([stack.get(listPath(next), auth), stack.get(listPath("?limit=2"), bearer(otherKey))])
      )
      assert.strictEqual(again.calls, 0)
    })
  )

  it.scopedLive(
    "upstream 401, 404, 429 and 5xx pass through as the conversation route's do, never cached",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({ client: { maxAttempts: 1 } })
        const twice = (path: string, headers: Record<string, string>) =>
          callsDuring(stack, Effect.all([stack.get(path, headers), stack.get(path, headers)]))

        const unauthorized = yield* twice(listPath(), bearer("vg_not_a_key"))
        const direct401 = yield* stack.direct(listPath(), bearer("vg_not_a_key"))
        assert.strictEqual(unauthorized.calls, 2)
        for (const answer of unauthorized.value) {
          assert.strictEqual(answer.status, 401)
          assert.deepStrictEqual(answer.bytes, direct401.bytes)
          assert.strictEqual(
            answer.headers.get("cache-status"),
            "convocore-gateway; fwd=miss; fwd-status=401"
          )
        }

        yield* stack.setFaults({ eu: "status=404", na: "status=404" })
        const notFound = yield* twice(listPath(), auth)
        assert.strictEqual(notFound.calls, 2)
        assert.deepStrictEqual(
          notFound.value.map((a) => a.status),
          [404, 404]
        )
        assert.strictEqual(notFound.value[0]?.text, (yield* stack.direct(listPath(), auth)).text)

        yield* stack.setFaults({ eu: "status=429,retry-after=3s", na: "status=429,retry-after=3s" })
        const limited = yield* twice(listPath(), auth)
        assert.isAtLeast(limited.calls, 2)
        for (const answer of limited.value) {
          assert.strictEqual(answer.status, 429)
          assert.strictEqual(answer.headers.get("retry-after"), "3")
        }

        yield* stack.setFaults({ eu: "status=503", na: "status=503" })
        const unavailable = yield* twice(listPath(), auth)
        assert.isAtLeast(unavailable.calls, 2)
        for (const answer of unavailable.value) {
          assert.strictEqual(answer.status, 503)
          assert.match(answer.headers.get("cache-status") ?? "", /fwd-status=503/)
          assert.strictEqual((answer.json() as { code: string }).code, "SERVICE_UNAVAILABLE")
        }

        // Nothing was stored: once the upstream answers, the page comes from it.
        yield* stack.setFaults({ eu: "healthy", na: "healthy" })
        const healthy = yield* callsDuring(stack, stack.get(listPath(), auth))
        assert.strictEqual(healthy.calls, 1)
        assert.strictEqual(healthy.value.headers.get("cache-status"), stored)
      })
  )

  it.scopedLive(
    "a page that fails the list schema is a 502, and a stored page stands in when all regions fail",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({ client: { maxAttempts: 1 } })
        yield* stack.setFaults({ eu: "malformed", na: "malformed" })
        const invalid = yield* stack.get(listPath("?limit=4"), auth)
        assert.strictEqual(invalid.status, 502)
        assert.strictEqual((invalid.json() as { code: string }).code, "BAD_GATEWAY")

        yield* stack.setFaults({ eu: "healthy", na: "healthy" })
        const fresh = yield* stack.get(listPath("?limit=4"), auth)
        yield* stack.setFaults({ eu: "down", na: "down" })
        const stale = yield* stack.get(listPath("?limit=4"), { ...auth, "cache-control": "no-cache" })
        assert.strictEqual(stale.status, 200)
        assert.deepStrictEqual(stale.bytes, fresh.bytes)
        assert.match(
          stale.headers.get("cache-status") ?? "",
          /^convocore-gateway; fwd=stale; .*detail=stale-if-error$/
        )
        assert.strictEqual(stale.headers.get("x-cache-stale"), "1")
      })
  )

  it.scopedLive("concurrent identical requests make one upstream call", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ sandbox: { faults: { eu: "latency=500ms" } } })
      const burst = yield* callsDuring(
        stack,
        Effect.forEach(
          Array.from({ length: 20 }, () => listPath("?limit=3")),
          (path) => stack.get(path, auth),
          { concurrency: "unbounded" }
        )
      )
      assert.strictEqual(burst.calls, 1)
      const bytes = burst.value[0]?.text
      assert.isTrue(burst.value.every((a) => a.status === 200 && a.text === bytes))
      const statuses = burst.value.map((a) => a.headers.get("cache-status"))
      assert.strictEqual(statuses.filter((s) => s === stored).length, 1)
      assert.strictEqual(statuses.filter((s) => s === "convocore-gateway; fwd=miss; collapsed").length, 19)
    })
  )

  it.scopedLive(
    "caller directives: only-if-cached answers 504 on a miss, no-cache and no-store go upstream",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack()
        const onlyIfCached = yield* callsDuring(
          stack,
          stack.get(listPath(), { ...auth, "cache-control": "only-if-cached" })
        )
        assert.strictEqual(onlyIfCached.calls, 0)
        assert.strictEqual(onlyIfCached.value.status, 504)
        assert.strictEqual(
          onlyIfCached.value.headers.get("cache-status"),
          "convocore-gateway; fwd=miss; detail=only-if-cached"
        )

        const noStore = yield* callsDuring(
          stack,
          stack.get(listPath(), { ...auth, "cache-control": "no-store" })
        )
        assert.strictEqual(noStore.calls, 1)
        assert.strictEqual(noStore.value.headers.get("cache-status"), "convocore-gateway; fwd=miss")
        yield* stack.get(listPath(), auth)
        const renewed = yield* callsDuring(
          stack,
          stack.get(listPath(), { ...auth, "cache-control": "no-cache" })
        )
        assert.strictEqual(renewed.calls, 1)
        assert.strictEqual(
          renewed.value.headers.get("cache-status"),
          "convocore-gateway; fwd=request; stored; ttl=5"
        )
        const cached = yield* callsDuring(
          stack,
          stack.get(listPath(), { ...auth, "cache-control": "only-if-cached" })
        )
        assert.strictEqual(cached.calls, 0)
        assert.strictEqual(cached.value.status, 200)
      })
  )

  it.scopedLive("a refused query parameter is a 400 that reaches no upstream", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const refused = yield* callsDuring(stack, stack.get(listPath("?limit=5&sort=asc"), auth))
      assert.strictEqual(refused.calls, 0)
      assert.strictEqual(refused.value.status, 400)
      const body = refused.value.json() as { code: string; message: string }
      assert.strictEqual(body.code, "BAD_REQUEST")
      assert.include(body.message, "sort is not a parameter of this route")
    })
  )

  it.scopedLive("GATEWAY_LIST_CACHE_TTL=0 passes every request upstream and stores nothing", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ gateway: { listCacheTtl: "0" } })
      const answers = yield* callsDuring(
        stack,
        Effect.all([stack.get(listPath(), auth), stack.get(listPath(), auth), stack.get(listPath(), auth)])
      )
      assert.strictEqual(answers.calls, 3)
      for (const answer of answers.value) {
        assert.strictEqual(answer.status, 200)
        assert.strictEqual(answer.headers.get("cache-status"), "convocore-gateway; fwd=miss")
      }
      // Conversations are still cached.
      const path = `/v3/agents/${Fixtures.demoAgent}/convos/${Fixtures.ids.seedExample}`
      yield* stack.get(path, auth)
      assert.strictEqual((yield* callsDuring(stack, stack.get(path, auth))).calls, 0)
    })
  )

  it.scopedLive(
    "in own-key mode a configured caller token is required and the gateway's key goes upstream",
    () =>
      Effect.gen(function* () {
        const callerToken = "caller-token-long-enough-0123456789"
        const stack = yield* startStack({
          gateway: { callerTokens: Redacted.make(callerToken), apiKeySet: true },
          client: { apiKey: demoKey }
        })
        const refused = yield* callsDuring(stack, stack.get(listPath(), bearer(demoKey)))
        assert.strictEqual(refused.calls, 0)
        assert.strictEqual(refused.value.status, 401)
        const served = yield* stack.get(listPath(), bearer(callerToken))
        assert.strictEqual(served.status, 200)
        assert.strictEqual(served.headers.get("cache-status"), stored)
      })
  )
})

describe.skipIf(!redisAvailable)("the list route on two replicas sharing Redis", () => {
  it.scopedLive("a page fetched through one replica is served by the other, no upstream call", () =>
    Effect.gen(function* () {
      const redis = yield* redisServer()
      const stack = yield* startStack({
        replicas: 2,
        gateway: { redisUrl: Redacted.make(redis.url), redisTimeout: "1s" }
      })
      for (const index of [0, 1]) {
        for (let i = 0; i < 500; i++) {
          const metrics = yield* stack.via(index, "/metrics")
          if (metricValue(metrics.text, "convocore_gateway_redis_up") === 1) break
          yield* Effect.sleep("20 millis")
        }
      }
      const first = yield* callsDuring(stack, stack.via(0, listPath("?limit=2"), { headers: auth }))
      assert.strictEqual(first.calls, 1)
      assert.strictEqual(first.value.headers.get("cache-status"), stored)
      const other = yield* callsDuring(stack, stack.via(1, listPath("?limit=2"), { headers: auth }))
      assert.strictEqual(other.calls, 0)
      assert.strictEqual(other.value.status, 200)
      assert.deepStrictEqual(other.value.bytes, first.value.bytes)
      assert.strictEqual(other.value.headers.get("content-type"), first.value.headers.get("content-type"))
      assert.match(
        other.value.headers.get("cache-status") ?? "",
        /^convocore-gateway; hit; ttl=\d+; detail=l2$/
      )
    })
  )
})
