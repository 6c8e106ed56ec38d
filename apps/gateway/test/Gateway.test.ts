import { Fixtures } from "@convocore-effect/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { Lifecycle } from "../src/Lifecycle.js"
import { bearer, conversationPath, demoKey, seedPath, startStack } from "./services/Stack.js"

const auth = bearer(demoKey)

describe("the conversation route", () => {
  it.scopedLive("gives a raw fetch client the sandbox's exact bytes, status and error shapes", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const paths = [
        seedPath,
        conversationPath(Fixtures.ids.dashboard),
        conversationPath(Fixtures.ids.voiceCall),
        conversationPath(Fixtures.ids.minimal),
        conversationPath("generated-conversation-42"),
        conversationPath(Fixtures.ids.notFound),
        conversationPath(Fixtures.ids.forbidden),
        conversationPath(Fixtures.ids.badRequest),
        conversationPath(Fixtures.ids.deleted),
        conversationPath("anything", Fixtures.naOnlyAgent)
      ]
      for (const path of paths) {
        const direct = yield* stack.direct(path, auth)
        const through = yield* stack.get(path, auth)
        assert.strictEqual(through.status, direct.status, path)
        assert.deepStrictEqual(through.bytes, direct.bytes, path)
        assert.strictEqual(through.headers.get("content-type"), direct.headers.get("content-type"), path)
      }
    })
  )

  it.scopedLive("serves the second identical request from the cache, with RFC 9211 Cache-Status", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const first = yield* stack.get(seedPath, auth)
      assert.strictEqual(first.status, 200)
      assert.match(first.headers.get("cache-status") ?? "", /^convocore-gateway; fwd=miss; stored; ttl=30$/)
      assert.strictEqual(first.headers.get("x-convocore-region"), "eu")
      const second = yield* stack.get(seedPath, auth)
      assert.match(second.headers.get("cache-status") ?? "", /^convocore-gateway; hit; ttl=\d+$/)
      assert.isNotNull(second.headers.get("age"))
      assert.deepStrictEqual(second.bytes, first.bytes)
      assert.strictEqual(yield* stack.upstreamRequests, 1)
      // `Cache-Control: no-cache` from the caller asks upstream again.
      const refreshed = yield* stack.get(seedPath, { ...auth, "cache-control": "no-cache" })
      assert.match(refreshed.headers.get("cache-status") ?? "", /fwd=request; stored/)
      assert.strictEqual(yield* stack.upstreamRequests, 2)
    })
  )

  it.scopedLive("answers a hit alike on the fast path and on the full HttpApi path", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      yield* stack.get(seedPath, auth)
      const fast = yield* stack.get(seedPath, { ...auth, "x-request-id": "fast-1" })
      // A query string is one of the things the fast path declines; the route itself ignores it.
      const full = yield* stack.get(`${seedPath}?via=full`, { ...auth, "x-request-id": "full-1" })
      for (const answer of [fast, full]) {
        assert.strictEqual(answer.status, 200)
        assert.match(answer.headers.get("cache-status") ?? "", /^convocore-gateway; hit; ttl=\d+$/)
        assert.strictEqual(answer.headers.get("x-convocore-region"), "eu")
        assert.strictEqual(answer.headers.get("content-type"), "application/json; charset=utf-8")
        assert.isNotNull(answer.headers.get("age"))
        assert.isNotNull(answer.headers.get("x-upstream-request-id"))
      }
      assert.deepStrictEqual(fast.bytes, full.bytes)
      assert.strictEqual(fast.headers.get("x-request-id"), "fast-1")
      assert.strictEqual(full.headers.get("x-request-id"), "full-1")
      assert.strictEqual(yield* stack.metric("convocore_gateway_cache_hits_total"), 2)
      assert.strictEqual(yield* stack.upstreamRequests, 1)
      // The miss, the fast hit and the full hit: each counted once, whichever path answered it.
      const route = 'route="/v3/agents/:agentId/convos/:convoId"'
      assert.strictEqual(
        yield* stack.metric("convocore_gateway_requests_total", `${route},method="GET",status="200"`),
        3
      )
      assert.strictEqual(yield* stack.metric("convocore_gateway_request_duration_seconds_count", route), 3)
      // Counted again on a second scrape, not lost or doubled by the first.
      yield* stack.get(seedPath, auth)
      assert.strictEqual(yield* stack.metric("convocore_gateway_cache_hits_total"), 3)
      assert.strictEqual(
        yield* stack.metric("convocore_gateway_requests_total", `${route},method="GET",status="200"`),
        4
      )
    })
  )

  it.scopedLive("logs a hit alike on the fast path and on the full HttpApi path", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ logRequests: true })
      yield* stack.get(seedPath, auth)
      yield* stack.get(seedPath, { ...auth, "x-request-id": "fast-1" })
      yield* stack.get(`${seedPath}?via=full`, { ...auth, "x-request-id": "full-1" })
      const fast = stack.requestLines.find((line) => line.requestId === "fast-1")
      const full = stack.requestLines.find((line) => line.requestId === "full-1")
      assert.strictEqual(fast?.via, "fast path")
      assert.strictEqual(full?.via, "HttpApi")
      const fields = [
        "cacheStatus",
        "durationMs",
        "method",
        "path",
        "region",
        "requestId",
        "route",
        "status",
        "via"
      ]
      for (const line of [fast, full]) {
        assert.deepStrictEqual(Object.keys(line ?? {}).sort(), fields)
        assert.strictEqual(line?.method, "GET")
        assert.strictEqual(line?.route, "/v3/agents/:agentId/convos/:convoId")
        assert.strictEqual(line?.path, seedPath)
        assert.strictEqual(line?.status, 200)
        assert.strictEqual(line?.region, "eu")
        assert.match(String(line?.cacheStatus), /^convocore-gateway; hit; ttl=\d+$/)
        assert.isAtLeast(Number(line?.durationMs), 0)
      }
    })
  )

  it.scopedLive("answers, counts and logs a miss alike on the fast path and on the full HttpApi path", () =>
    Effect.gen(function* () {
      // Nothing is stored (TTL 0): every request below is a miss, sent upstream.
      const stack = yield* startStack({ gateway: { cacheTtl: "0", staleIfError: "0" }, logRequests: true })
      const notFound = conversationPath(Fixtures.ids.notFound)
      for (const [path, status] of [
        [seedPath, 200],
        [notFound, 404]
      ] as const) {
        const fast = yield* stack.get(path, { ...auth, "x-request-id": `fast-${status}` })
        // A query string is one of the things the fast path declines; the route itself ignores it.
        const full = yield* stack.get(`${path}?via=full`, { ...auth, "x-request-id": `full-${status}` })
        const direct = yield* stack.direct(path, auth)
        for (const answer of [fast, full]) {
          assert.strictEqual(answer.status, status, path)
          assert.deepStrictEqual(answer.bytes, direct.bytes, path)
          assert.strictEqual(answer.headers.get("content-type"), direct.headers.get("content-type"))
          assert.strictEqual(answer.headers.get("x-convocore-region"), "eu")
          assert.isNull(answer.headers.get("age"))
        }
        assert.strictEqual(fast.headers.get("cache-status"), full.headers.get("cache-status"))
        assert.match(
          fast.headers.get("cache-status") ?? "",
          status === 200 ? /^convocore-gateway; fwd=miss$/ : /^convocore-gateway; fwd=miss; fwd-status=404$/
        )
        // The upstream's own request id (a new one per upstream request) goes with a document, by both paths.
        for (const answer of [fast, full]) {
          if (status === 200) assert.match(answer.headers.get("x-upstream-request-id") ?? "", /^sbx-eu-\d+$/)
          else assert.isNull(answer.headers.get("x-upstream-request-id"))
        }
        assert.strictEqual(fast.headers.get("x-request-id"), `fast-${status}`)
        assert.strictEqual(full.headers.get("x-request-id"), `full-${status}`)

        const fastLine = stack.requestLines.find((line) => line.requestId === `fast-${status}`)
        const fullLine = stack.requestLines.find((line) => line.requestId === `full-${status}`)
        assert.strictEqual(fastLine?.via, "fast path")
        assert.strictEqual(fullLine?.via, "HttpApi")
        for (const line of [fastLine, fullLine]) {
          assert.strictEqual(line?.status, status)
          assert.strictEqual(line?.path, path)
          assert.strictEqual(line?.route, "/v3/agents/:agentId/convos/:convoId")
          assert.strictEqual(line?.cacheStatus, fast.headers.get("cache-status"))
          assert.strictEqual(line?.region, "eu")
        }
        assert.deepStrictEqual(Object.keys(fastLine ?? {}).sort(), Object.keys(fullLine ?? {}).sort())
      }
      const route = 'route="/v3/agents/:agentId/convos/:convoId"'
      assert.strictEqual(
        yield* stack.metric("convocore_gateway_requests_total", `${route},method="GET",status="200"`),
        2
      )
      assert.strictEqual(
        yield* stack.metric("convocore_gateway_requests_total", `${route},method="GET",status="404"`),
        2
      )
      assert.strictEqual(yield* stack.metric("convocore_gateway_cache_misses_total"), 4)
      assert.strictEqual(yield* stack.upstreamRequests, 6)
    })
  )

  it.scopedLive("a miss that the caller gives up on is not answered, and the gateway goes on", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ gateway: { cacheTtl: "0", staleIfError: "0" } })
      yield* stack.setFaults({ eu: "latency=300ms" })
      const controller = new AbortController()
      const abandoned = fetch(`${stack.gateway.url}${seedPath}`, {
        headers: auth,
        signal: controller.signal
      }).catch((error: unknown) => error)
      yield* Effect.sleep("50 millis")
      controller.abort()
      yield* Effect.promise(() => abandoned)
      yield* stack.setFaults({ eu: "" })
      const next = yield* stack.get(seedPath, auth)
      assert.strictEqual(next.status, 200)
      // Neither request is still counted as in flight: a drain would not wait for the abandoned one.
      const lifecycle = Context.get(stack.gateway.context, Lifecycle)
      assert.strictEqual(lifecycle.inFlight(), 0)
    })
  )

  it.scopedLive("propagates the caller's x-request-id, or makes one", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const given = yield* stack.get(seedPath, { ...auth, "x-request-id": "trace-abc.123" })
      assert.strictEqual(given.headers.get("x-request-id"), "trace-abc.123")
      const made = yield* stack.get(seedPath, auth)
      assert.match(made.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/)
      const unsafe = yield* stack.get(seedPath, { ...auth, "x-request-id": "<script>" })
      assert.notStrictEqual(unsafe.headers.get("x-request-id"), "<script>")
    })
  )

  it.scopedLive("coalesces 100 concurrent identical requests into one upstream request", () =>
    Effect.gen(function* () {
      // Nothing is cached (TTL 0), so only coalescing can keep the count at one; the upstream is slow
      // enough that every request arrives while the first is in flight, even on a busy machine.
      const stack = yield* startStack({
        sandbox: { faults: { eu: "latency=3s" } },
        gateway: { cacheTtl: "0", staleIfError: "0" },
        client: { attemptTimeout: 10_000, deadline: 20_000 }
      })
      const path = conversationPath("coalesced-convo")
      const answers = yield* Effect.forEach(Array.from({ length: 100 }), () => stack.get(path, auth), {
        concurrency: "unbounded"
      })
      assert.strictEqual(yield* stack.upstreamRequests, 1)
      const statuses = answers.map((a) => a.headers.get("cache-status") ?? "")
      assert.strictEqual(statuses.filter((s) => s === "convocore-gateway; fwd=miss").length, 1)
      assert.strictEqual(statuses.filter((s) => s === "convocore-gateway; fwd=miss; collapsed").length, 99)
      const bytes = answers[0]?.text
      assert.isTrue(answers.every((a) => a.status === 200 && a.text === bytes))
      assert.strictEqual(yield* stack.metric("convocore_gateway_cache_coalesced_total"), 99)
      assert.strictEqual(yield* stack.metric("convocore_gateway_cache_misses_total"), 1)
    })
  )

  it.scopedLive("refuses an id that could not be a path segment, without calling upstream", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const answer = yield* stack.get("/v3/agents/agent123/convos/a%00b", auth)
      assert.strictEqual(answer.status, 400)
      const body = answer.json() as { code: string; issues: ReadonlyArray<{ path: ReadonlyArray<string> }> }
      assert.strictEqual(body.code, "BAD_REQUEST")
      assert.deepStrictEqual(body.issues[0]?.path, ["convoId"])
      assert.strictEqual(yield* stack.upstreamRequests, 0)
    })
  )

  it.scopedLive("answers unknown routes and methods in the upstream's shapes", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const unknown = yield* stack.get("/x", auth)
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(unknown.text, '{"error":{"code":"NOT_FOUND","message":"Route GET /x not found"}}')
      const posted = yield* Effect.promise(() =>
        fetch(`${stack.gateway.url}${seedPath}`, { method: "POST", headers: auth }).then((r) =>
          r.json().then((body) => ({ status: r.status, body }))
        )
      )
      assert.strictEqual(posted.status, 405)
      assert.deepStrictEqual(posted.body, {
        message: "Method POST not supported",
        code: "METHOD_NOT_SUPPORTED"
      })
    })
  )
})

describe("failover and failure", () => {
  it.scopedLive("serves from NA when EU refuses connections", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      yield* stack.setFaults({ eu: "down" })
      const answer = yield* stack.get(seedPath, auth)
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.headers.get("x-convocore-region"), "na")
      const direct = yield* stack.direct(seedPath, auth, "na")
      assert.deepStrictEqual(answer.bytes, direct.bytes)
      assert.isAbove(
        yield* stack.metric(
          "convocore_gateway_upstream_attempts_total",
          'region="eu",outcome="connect-failed"'
        ),
        0
      )
      assert.strictEqual(
        yield* stack.metric("convocore_gateway_upstream_attempts_total", 'region="na",outcome="ok"'),
        1
      )
    })
  )

  it.scopedLive("serves a stale copy when every region is down, and 503 with Retry-After without one", () =>
    Effect.gen(function* () {
      // TTL 0: every document goes stale at once and is kept only for stale-if-error.
      const stack = yield* startStack({ gateway: { cacheTtl: "0", staleIfError: "1m" } })
      const fresh = yield* stack.get(seedPath, auth)
      assert.strictEqual(fresh.status, 200)
      yield* stack.setFaults({ eu: "down", na: "down" })

      const stale = yield* stack.get(seedPath, auth)
      assert.strictEqual(stale.status, 200)
      assert.deepStrictEqual(stale.bytes, fresh.bytes)
      assert.match(
        stale.headers.get("cache-status") ?? "",
        /^convocore-gateway; fwd=stale; ttl=-?\d+; detail=stale-if-error$/
      )
      assert.strictEqual(stale.headers.get("x-cache-stale"), "1")
      assert.match(stale.headers.get("warning") ?? "", /^110 convocore-gateway "Response is Stale"/)
      assert.strictEqual(yield* stack.metric("convocore_gateway_cache_stale_served_total"), 1)

      const uncached = yield* stack.get(conversationPath("never-fetched"), auth)
      assert.strictEqual(uncached.status, 503)
      assert.isAtLeast(Number(uncached.headers.get("retry-after")), 1)
      const body = uncached.json() as {
        code: string
        message: string
        issues: ReadonlyArray<{ region: string }>
      }
      assert.strictEqual(body.code, "SERVICE_UNAVAILABLE")
      assert.includeMembers(
        body.issues.map((i) => i.region),
        ["eu", "na"]
      )
    })
  )

  it.scopedLive("stale-while-revalidate serves a stale copy at once and refreshes it behind, once", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ gateway: { cacheTtl: "1s", staleWhileRevalidate: "1m" } })
      const path = conversationPath("revalidated-alone")
      const first = yield* stack.get(path, auth)
      yield* Effect.sleep("1100 millis")
      const stale = yield* Effect.forEach([1, 2, 3], () => stack.get(path, auth), {
        concurrency: "unbounded"
      })
      for (const answer of stale) {
        assert.deepStrictEqual(answer.bytes, first.bytes)
        assert.match(
          answer.headers.get("cache-status") ?? "",
          /^convocore-gateway; fwd=stale; ttl=-\d+; detail=stale-while-revalidate$/
        )
        assert.isAtLeast(Number(answer.headers.get("age")), 1)
      }
      for (let i = 0; i < 100 && (yield* stack.upstreamRequests) < 2; i++) yield* Effect.sleep("20 millis")
      assert.strictEqual(yield* stack.upstreamRequests, 2)
      assert.strictEqual(
        (yield* stack.get(path, auth)).headers.get("cache-status")?.startsWith("convocore-gateway; hit;"),
        true
      )
      // A caller that asks for a new copy is not given the stale one.
      yield* Effect.sleep("1100 millis")
      const renewed = yield* stack.get(path, { ...auth, "cache-control": "no-cache" })
      assert.strictEqual(renewed.headers.get("cache-status"), "convocore-gateway; fwd=request; stored; ttl=1")
    })
  )

  it.scopedLive("maps rate limiting to 429 with Retry-After and an invalid upstream body to 502", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ client: { maxAttempts: 1 } })
      yield* stack.setFaults({ eu: "status=429,retry-after=3s" })
      const limited = yield* stack.get(seedPath, auth)
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers.get("retry-after"), "3")
      assert.strictEqual((limited.json() as { code: string }).code, "TOO_MANY_REQUESTS")

      yield* stack.setFaults({ eu: "malformed" })
      const invalid = yield* stack.get(seedPath, auth)
      assert.strictEqual(invalid.status, 502)
      assert.strictEqual((invalid.json() as { code: string }).code, "BAD_GATEWAY")
      // Neither is stored: the next healthy answer comes from upstream.
      yield* stack.setFaults({ eu: "healthy" })
      const healthy = yield* stack.get(seedPath, auth)
      assert.match(healthy.headers.get("cache-status") ?? "", /fwd=miss; stored/)
    })
  )

  it.scopedLive("/readyz follows the circuit breakers", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ client: { breakerThreshold: 2, breakerCooldown: 300 } })
      const ready = yield* stack.get("/readyz")
      assert.strictEqual(ready.status, 200)
      assert.deepStrictEqual(ready.json(), {
        status: "ready",
        regions: [
          { region: "eu", breaker: "closed" },
          { region: "na", breaker: "closed" }
        ]
      })

      yield* stack.setFaults({ eu: "down", na: "down" })
      const failed = yield* stack.get(seedPath, auth)
      assert.strictEqual(failed.status, 503)
      const notReady = yield* stack.get("/readyz")
      assert.strictEqual(notReady.status, 503)
      const view = notReady.json() as { status: string; regions: ReadonlyArray<{ breaker: string }> }
      assert.strictEqual(view.status, "not-ready")
      assert.deepStrictEqual(
        view.regions.map((r) => r.breaker),
        ["open", "open"]
      )
      assert.strictEqual(yield* stack.metric("convocore_gateway_region_circuit_state", 'region="eu"'), 2)

      // NA comes back; after the cool-down the next call probes it and closes its breaker.
      yield* stack.setFaults({ na: "healthy" })
      yield* Effect.sleep("350 millis")
      const recovered = yield* stack.get(seedPath, auth)
      assert.strictEqual(recovered.status, 200)
      assert.strictEqual(recovered.headers.get("x-convocore-region"), "na")
      const readyAgain = yield* stack.get("/readyz")
      assert.strictEqual(readyAgain.status, 200)
      assert.include(readyAgain.text, '{"region":"na","breaker":"closed"}')
    })
  )
})

describe("operations", () => {
  it.scopedLive("/metrics counts requests, cache events and upstream attempts", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const route = 'route="/v3/agents/:agentId/convos/:convoId",method="GET"'
      yield* stack.get(seedPath, auth)
      yield* stack.get(seedPath, auth)
      yield* stack.get(conversationPath(Fixtures.ids.notFound), auth)
      const metrics = yield* stack.get("/metrics")
      assert.strictEqual(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
      const value = (name: string, labels = "") =>
        Number(
          metrics.text
            .split("\n")
            .find((l) => l.startsWith(labels === "" ? `${name} ` : `${name}{${labels}} `))
            ?.split(" ")[1]
        )
      assert.strictEqual(value("convocore_gateway_requests_total", `${route},status="200"`), 2)
      assert.strictEqual(value("convocore_gateway_requests_total", `${route},status="404"`), 1)
      assert.strictEqual(value("convocore_gateway_cache_hits_total"), 1)
      assert.strictEqual(value("convocore_gateway_cache_misses_total"), 2)
      assert.strictEqual(value("convocore_gateway_upstream_attempts_total", 'region="eu",outcome="ok"'), 1)
      assert.strictEqual(
        value("convocore_gateway_upstream_attempts_total", 'region="eu",outcome="not-found"'),
        1
      )
      assert.strictEqual(
        value(
          "convocore_gateway_request_duration_seconds_count",
          'route="/v3/agents/:agentId/convos/:convoId"'
        ),
        3
      )
      assert.strictEqual(value("convocore_gateway_cache_entries"), 1)
    })
  )

  it.scopedLive("publishes /healthz, /openapi.json and /docs", () =>
    Effect.gen(function* () {
      const stack = yield* startStack()
      const health = yield* stack.get("/healthz")
      assert.deepStrictEqual(health.json(), { status: "ok" })
      const openapi = (yield* stack.get("/openapi.json")).json() as {
        paths: Record<string, { get: { security: unknown; responses: Record<string, unknown> } }>
        components: { securitySchemes: Record<string, { scheme: string }> }
      }
      const route = openapi.paths["/v3/agents/{agentId}/convos/{convoId}"]
      assert.isDefined(route)
      assert.includeMembers(Object.keys(route?.get.responses ?? {}), ["200", "401", "404", "429", "503"])
      assert.strictEqual(openapi.components.securitySchemes.bearer?.scheme, "bearer")
      const docs = yield* stack.get("/docs")
      assert.strictEqual(docs.status, 200)
      assert.include(docs.text, "swagger")
    })
  )
})
