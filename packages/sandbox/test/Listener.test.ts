import {
  ConversationEnvelope,
  ConversationEnvelopeStrict,
  conversationStrictDecoder,
  Drift,
  seedExampleResponse
} from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Schema, TestClock } from "effect"
import { Fixtures } from "../src/index.js"
import { causeCode, convo, eventually, get, getFailure, list, pick, realSleep } from "./services/Http.js"
import { start } from "./services/Listeners.js"
import { rows, walk } from "./services/Pages.js"

const seedPath = (base: string) => convo(base, Fixtures.demoAgent, Fixtures.ids.seedExample)
const seedBytes = JSON.stringify(seedExampleResponse)

describe("Listener: routes, auth and fixtures over loopback", () => {
  it.scopedLive(
    "serves the seed's example with the upstream envelope and a request id, in both regions",
    () =>
      Effect.gen(function* () {
        const { urls } = yield* start()
        for (const region of ["eu", "na"] as const) {
          const got = yield* get(seedPath(urls[region]))
          assert.strictEqual(got.status, 200)
          assert.strictEqual(got.text, seedBytes)
          assert.strictEqual(got.headers.get("content-type"), "application/json; charset=utf-8")
          assert.strictEqual(got.headers.get("x-sandbox-region"), region)
          assert.match(got.headers.get("x-request-id") ?? "", new RegExp(`^sbx-${region}-\\d{8}$`))
        }
      })
  )

  it.scopedLive(
    "answers 401 for a missing or wrong key and serves the right one, from a configurable list",
    () =>
      Effect.gen(function* () {
        const { urls } = yield* start({ apiKeys: ["vg_first", "vg_second"] })
        const unauthorized = { message: "Unauthorized workspace scope", code: "UNAUTHORIZED" }
        const missing = yield* get(seedPath(urls.eu), { key: null })
        assert.strictEqual(missing.status, 401)
        assert.deepStrictEqual(missing.json(), unauthorized)
        const wrong = yield* get(seedPath(urls.eu), { key: Fixtures.demoApiKey })
        assert.strictEqual(wrong.status, 401)
        assert.deepStrictEqual(wrong.json(), unauthorized)
        const basic = yield* get(seedPath(urls.eu), {
          key: null,
          headers: { authorization: "Basic vg_first" }
        })
        assert.strictEqual(basic.status, 401)
        assert.strictEqual((yield* get(seedPath(urls.eu), { key: "vg_second" })).status, 200)
        const lowerCase = yield* get(seedPath(urls.eu), {
          key: null,
          headers: { authorization: "bearer vg_first" }
        })
        assert.strictEqual(lowerCase.status, 200)
      })
  )

  it.scopedLive("answers the documented error fixtures with their statuses and bodies", () =>
    Effect.gen(function* () {
      const { urls } = yield* start()
      const forbidden = yield* get(convo(urls.eu, "any-agent", Fixtures.ids.forbidden))
      assert.strictEqual(forbidden.status, 403)
      assert.deepStrictEqual(forbidden.json(), { message: "Business plan or higher", code: "FORBIDDEN" })
      const notFound = yield* get(convo(urls.na, Fixtures.demoAgent, Fixtures.ids.notFound))
      assert.strictEqual(notFound.status, 404)
      assert.strictEqual(notFound.text, '{"message":"Conversation not found","code":"NOT_FOUND"}')
      const deleted = yield* get(convo(urls.eu, Fixtures.demoAgent, Fixtures.ids.deleted))
      assert.strictEqual(deleted.status, 401)
      const bad = yield* get(convo(urls.eu, Fixtures.demoAgent, Fixtures.ids.badRequest))
      assert.strictEqual(bad.status, 400)
      assert.deepStrictEqual(bad.json(), {
        message: "Input validation failed",
        code: "BAD_REQUEST",
        issues: [{ message: "Invalid conversation id", path: ["convoId"], code: "custom" }]
      })
      const minimal = yield* get(convo(urls.eu, Fixtures.demoAgent, Fixtures.ids.minimal))
      assert.deepStrictEqual(minimal.json(), {
        success: true,
        message: "Conversation retrieved successfully"
      })
    })
  )

  it.scopedLive("serves the dashboard, API-created and voice-call fixtures as strict documents", () =>
    Effect.gen(function* () {
      const { urls } = yield* start()
      for (const id of [Fixtures.ids.dashboard, Fixtures.ids.apiCreated, Fixtures.ids.voiceCall]) {
        const got = yield* get(convo(urls.eu, Fixtures.demoAgent, id))
        assert.strictEqual(got.status, 200)
        const envelope = Schema.decodeUnknownSync(ConversationEnvelopeStrict)(got.json())
        assert.strictEqual(envelope.data?.ID, id)
      }
      const call = Schema.decodeUnknownSync(ConversationEnvelopeStrict)(
        (yield* get(convo(urls.na, Fixtures.demoAgent, Fixtures.ids.voiceCall))).json()
      )
      assert.strictEqual(call.data?.userID, "+14155550123")
      assert.strictEqual(call.data?.vapi?.callDuration, 212)
    })
  )

  it.scopedLive("answers unknown routes in the other error shape, and other methods with 405", () =>
    Effect.gen(function* () {
      const { origins, urls } = yield* start()
      const unknown = yield* get(`${origins.eu}/x`)
      assert.strictEqual(unknown.status, 404)
      assert.deepStrictEqual(unknown.json(), {
        error: { code: "NOT_FOUND", message: "Route GET /x not found" }
      })
      const deeper = yield* get(`${urls.eu}/agents/agent123/convos/c1/messages`)
      assert.deepStrictEqual(deeper.json(), {
        error: { code: "NOT_FOUND", message: "Route GET /v3/agents/agent123/convos/c1/messages not found" }
      })
      const post = yield* get(seedPath(urls.eu), { method: "POST", body: "{}" })
      assert.strictEqual(post.status, 405)
      assert.strictEqual(pick(post.json(), "code"), "METHOD_NOT_SUPPORTED")
    })
  )

  it.scopedLive("percent-decodes path segments: an encoded id is one id, never another route", () =>
    Effect.gen(function* () {
      const { urls } = yield* start()
      const encoded = yield* get(`${urls.eu}/agents/agent%31%323/convos/%63onvo456`)
      assert.strictEqual(encoded.text, seedBytes)
      const slash = yield* get(convo(urls.eu, "agent/x", "a/b?c"))
      assert.strictEqual(slash.status, 200)
      assert.strictEqual(pick(slash.json(), "data", "ID"), "a/b?c")
      const broken = yield* get(`${urls.eu}/agents/agent123/convos/%E0%A4%A`)
      assert.strictEqual(broken.status, 400)
    })
  )

  it.scopedLive("generated documents are reproducible from the seed and pass strict", () =>
    Effect.gen(function* () {
      const a = yield* start({ seed: 9 })
      const b = yield* start({ seed: 9 })
      const first = yield* get(convo(a.urls.eu, "agent-z", "7EKgZfeuq82eFA0z"))
      assert.strictEqual((yield* get(convo(b.urls.na, "agent-z", "7EKgZfeuq82eFA0z"))).text, first.text)
      assert.notStrictEqual((yield* get(convo(a.urls.eu, "agent-z", "another"))).text, first.text)
      assert.isTrue(Either.isRight(conversationStrictDecoder.decodeUnknownEither(pick(first.json(), "data"))))
    })
  )

  it.scopedLive("keeps single-region agents in their region: the other answers 404", () =>
    Effect.gen(function* () {
      const { urls } = yield* start({ placement: { "agent-custom": ["na"] } })
      assert.strictEqual((yield* get(convo(urls.eu, Fixtures.euOnlyAgent, "c1"))).status, 200)
      const elsewhere = yield* get(convo(urls.na, Fixtures.euOnlyAgent, "c1"))
      assert.strictEqual(elsewhere.status, 404)
      assert.deepStrictEqual(elsewhere.json(), { message: "Conversation not found", code: "NOT_FOUND" })
      assert.strictEqual((yield* get(convo(urls.eu, Fixtures.naOnlyAgent, "c1"))).status, 404)
      assert.strictEqual((yield* get(convo(urls.na, Fixtures.naOnlyAgent, "c1"))).status, 200)
      assert.strictEqual((yield* get(convo(urls.eu, "agent-custom", "c1"))).status, 404)
      assert.strictEqual((yield* get(convo(urls.na, "agent-custom", "c1"))).status, 200)
    })
  )
})

describe("Listener: faults over loopback", () => {
  it.scopedLive(
    "down really refuses connections, per region, and the same port serves again when healthy",
    () =>
      Effect.gen(function* () {
        const { ports, sandbox, urls } = yield* start()
        // A pooled keep-alive connection must not outlive the socket either.
        assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
        yield* sandbox.setFaults("eu", "down")
        const refused = yield* getFailure(seedPath(urls.eu))
        assert.strictEqual(causeCode(refused), "ECONNREFUSED")
        assert.strictEqual((yield* get(seedPath(urls.na))).status, 200)
        yield* sandbox.setFaults("eu", "healthy")
        const back = yield* get(seedPath(`http://127.0.0.1:${ports.eu}/v3`))
        assert.strictEqual(back.text, seedBytes)
      })
  )

  it.scopedLive("a region configured down at start refuses from the first request", () =>
    Effect.gen(function* () {
      const { urls } = yield* start({ faults: { na: "down" } })
      assert.strictEqual(causeCode(yield* getFailure(seedPath(urls.na))), "ECONNREFUSED")
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
    })
  )

  it.scoped("down,for=30s refuses until the time is up, then the same port serves (TestClock)", () =>
    Effect.gen(function* () {
      const { sandbox, urls } = yield* start()
      yield* sandbox.setFaults("eu", "down,for=30s")
      assert.strictEqual(causeCode(yield* getFailure(seedPath(urls.eu))), "ECONNREFUSED")
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(causeCode(yield* getFailure(seedPath(urls.eu))), "ECONNREFUSED")
      yield* TestClock.adjust("1 second")
      // The socket re-opens asynchronously once the clock reaches the bound.
      const back = yield* eventually(
        Effect.promise(() =>
          fetch(seedPath(urls.eu), { headers: { authorization: `Bearer ${Fixtures.demoApiKey}` } }).then(
            (r) => r.status,
            () => 0
          )
        ),
        (status) => status === 200
      )
      assert.strictEqual(back, 200)
    })
  )

  it.scopedLive("hang accepts the request and never answers", () =>
    Effect.gen(function* () {
      const { sandbox, urls } = yield* start({ faults: { eu: "hang" } })
      const failure = yield* getFailure(seedPath(urls.eu), { timeoutMs: 300 })
      assert.strictEqual(failure instanceof DOMException ? failure.name : failure, "TimeoutError")
      assert.strictEqual((yield* sandbox.counters("eu")).byOutcome.hang, 1)
      assert.strictEqual((yield* get(seedPath(urls.na))).status, 200)
    })
  )

  it.scopedLive("status=503,first=3 answers 503 three times, then the document", () =>
    Effect.gen(function* () {
      const { sandbox, urls } = yield* start({ faults: { eu: "status=503,first=3" } })
      for (let i = 0; i < 3; i++) {
        const got = yield* get(seedPath(urls.eu))
        assert.strictEqual(got.status, 503)
        assert.deepStrictEqual(got.json(), { message: "Service unavailable", code: "SERVICE_UNAVAILABLE" })
      }
      assert.strictEqual((yield* get(seedPath(urls.eu))).text, seedBytes)
      const status = yield* sandbox.faults("eu")
      assert.isFalse(status.active)
      assert.strictEqual(status.served, 3)
    })
  )

  it.scoped("status=500,for=30s ends on time (TestClock)", () =>
    Effect.gen(function* () {
      const { urls } = yield* start({ faults: { eu: "status=500,code=TIMEOUT,for=30s" } })
      const during = yield* get(seedPath(urls.eu))
      assert.strictEqual(during.status, 500)
      assert.deepStrictEqual(during.json(), { message: "Internal server error", code: "TIMEOUT" })
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 500)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
    })
  )

  it.scoped("rate=2/s answers 429 with a Retry-After the bucket honours (TestClock)", () =>
    Effect.gen(function* () {
      const { urls } = yield* start({ faults: { eu: "rate=2/s" } })
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
      const limited = yield* get(seedPath(urls.eu))
      assert.strictEqual(limited.status, 429)
      assert.deepStrictEqual(limited.json(), {
        message: "Rate limit exceeded, retry later",
        code: "TOO_MANY_REQUESTS"
      })
      assert.strictEqual(limited.headers.get("retry-after"), "1")
      assert.strictEqual(limited.headers.get("retry-after-ms"), "500")
      // NA has its own faults: no bucket there.
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* get(seedPath(urls.na))).status, 200)
      yield* TestClock.adjust("499 millis")
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 429)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 429)
      // Waiting the whole Retry-After (1 s) refills two tokens: both are served.
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
    })
  )

  it.scopedLive("latency delays the answer", () =>
    Effect.gen(function* () {
      const { urls } = yield* start({ faults: { eu: "latency=200ms" } })
      const started = performance.now()
      const got = yield* get(seedPath(urls.eu))
      assert.isAtLeast(performance.now() - started, 190)
      assert.strictEqual(got.text, seedBytes)
    })
  )

  it.scoped("latency runs on the Effect clock (TestClock)", () =>
    Effect.gen(function* () {
      const { urls } = yield* start({ faults: { eu: "latency=10s" } })
      const fiber = yield* Effect.fork(get(seedPath(urls.eu)))
      yield* realSleep(100)
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).text, seedBytes)
    })
  )

  it.scopedLive("slow-body sends the headers, then the body in pieces over the given time", () =>
    Effect.gen(function* () {
      const { urls } = yield* start({ faults: { eu: "slow-body=400ms" } })
      const started = performance.now()
      const { pieces, text } = yield* Effect.promise(async () => {
        const response = await fetch(seedPath(urls.eu), {
          headers: { authorization: `Bearer ${Fixtures.demoApiKey}` }
        })
        assert.strictEqual(response.status, 200)
        const body = response.body
        if (body === null) throw new Error("no body")
        const reader = body.getReader()
        const chunks: Array<Uint8Array> = []
        for (let read = await reader.read(); !read.done; read = await reader.read()) chunks.push(read.value)
        return { pieces: chunks.length, text: Buffer.concat(chunks).toString("utf8") }
      })
      // The server pauses 400 ms in all between the pieces: a lower bound that load cannot break.
      assert.isAtLeast(performance.now() - started, 350)
      assert.isAtLeast(pieces, 2)
      assert.strictEqual(text, seedBytes)
    })
  )

  it.scopedLive(
    "malformed sends invalid JSON with a correct length; content-type changes only the type",
    () =>
      Effect.gen(function* () {
        const { urls } = yield* start({ faults: { eu: "malformed", na: "content-type=text/html" } })
        const malformed = yield* get(seedPath(urls.eu))
        assert.strictEqual(malformed.status, 200)
        assert.strictEqual(malformed.headers.get("content-length"), String(malformed.bytes.length))
        assert.throws(() => JSON.parse(malformed.text))
        const html = yield* get(seedPath(urls.na))
        assert.strictEqual(html.headers.get("content-type"), "text/html")
        assert.strictEqual(html.text, seedBytes)
      })
  )

  it.scopedLive("truncated promises the whole length, sends half, and drops the connection", () =>
    Effect.gen(function* () {
      const { urls } = yield* start({ faults: { eu: "truncated" } })
      const response = yield* Effect.promise(() =>
        fetch(seedPath(urls.eu), { headers: { authorization: `Bearer ${Fixtures.demoApiKey}` } })
      )
      assert.strictEqual(response.headers.get("content-length"), String(seedBytes.length))
      const failure = yield* Effect.promise(() =>
        response.arrayBuffer().then(
          () => undefined,
          (e: unknown) => e
        )
      )
      assert.instanceOf(failure, Error)
      // The next request on a fresh connection is truncated too: the fault is the region's.
      const again = yield* getFailure(seedPath(urls.eu))
      assert.instanceOf(again, Error)
    })
  )

  it.scopedLive(
    "drift adds what the real API sends; the tolerant schema reads it and strict refuses it",
    () =>
      Effect.gen(function* () {
        const { urls } = yield* start({ faults: { eu: "drift" } })
        const got = (yield* get(seedPath(urls.eu))).json()
        assert.strictEqual(pick(got, "cached"), true)
        assert.isTrue(Either.isRight(Schema.decodeUnknownEither(ConversationEnvelope)(got)))
        assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(ConversationEnvelopeStrict)(got)))
        const kinds = Drift.conversationDrift(pick(got, "data")).map((entry) => `${entry.kind}:${entry.path}`)
        assert.includeMembers(kinds, [
          "unknown-key:crmPipelineId",
          "off-spec-enum:state",
          "unexpected-null:summary"
        ])
      })
  )

  it.scopedLive(
    "broken-primitive breaks the contract: even the tolerant schema refuses, naming the path",
    () =>
      Effect.gen(function* () {
        const { urls } = yield* start({ faults: { eu: "broken-primitive" } })
        const got = (yield* get(seedPath(urls.eu))).json()
        const decoded = Schema.decodeUnknownEither(ConversationEnvelope)(got)
        assert.isTrue(Either.isLeft(decoded))
        if (Either.isLeft(decoded)) assert.include(decoded.left.message, "messagesNum")
      })
  )

  it.scopedLive("x-sandbox-fault faults one request; an invalid header is a 400 that says why", () =>
    Effect.gen(function* () {
      const { urls } = yield* start()
      const faulted = yield* get(seedPath(urls.eu), { headers: { "x-sandbox-fault": "status=502" } })
      assert.strictEqual(faulted.status, 502)
      assert.deepStrictEqual(faulted.json(), { message: "Bad gateway", code: "BAD_GATEWAY" })
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
      const invalid = yield* get(seedPath(urls.eu), { headers: { "x-sandbox-fault": "status=5000" } })
      assert.strictEqual(invalid.status, 400)
      assert.include(String(pick(invalid.json(), "message")), "expected an HTTP error status")
      const reset = yield* getFailure(seedPath(urls.eu), { headers: { "x-sandbox-fault": "down" } })
      assert.instanceOf(reset, Error)
      const retry = yield* get(seedPath(urls.eu), {
        headers: { "x-sandbox-fault": "status=503,retry-after=3s" }
      })
      assert.strictEqual(retry.headers.get("retry-after"), "3")
    })
  )
})

describe("Listener: admin route and counters", () => {
  it.scopedLive(
    "PUT /_sandbox/faults changes a region's faults at run time; GET shows them; DELETE clears",
    () =>
      Effect.gen(function* () {
        const { origins, urls } = yield* start()
        const put = yield* get(`${origins.eu}/_sandbox/faults`, {
          method: "PUT",
          body: "status=503,first=1",
          key: null
        })
        assert.strictEqual(put.status, 200)
        const view = (yield* get(`${origins.na}/_sandbox/faults`, { key: null })).json()
        assert.strictEqual(pick(view, "eu", "spec"), "status=503,first=1")
        assert.strictEqual(pick(view, "eu", "active"), true)
        assert.strictEqual(pick(view, "na", "spec"), "healthy")
        assert.strictEqual((yield* get(seedPath(urls.eu))).status, 503)
        assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)

        // EU's own admin route sets EU down and is still answered; NA's admin route brings it back.
        const down = yield* get(`${origins.eu}/_sandbox/faults`, { method: "PUT", body: "down", key: null })
        assert.strictEqual(down.status, 200)
        assert.strictEqual(causeCode(yield* getFailure(seedPath(urls.eu))), "ECONNREFUSED")
        yield* get(`${origins.na}/_sandbox/faults?region=eu`, { method: "DELETE", key: null })
        assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)

        const both = yield* get(`${origins.na}/_sandbox/faults`, {
          method: "PUT",
          body: JSON.stringify({ eu: "status=500", na: "status=502" }),
          key: null
        })
        assert.strictEqual(both.status, 200)
        assert.strictEqual((yield* get(seedPath(urls.eu))).status, 500)
        assert.strictEqual((yield* get(seedPath(urls.na))).status, 502)

        const invalid = yield* get(`${origins.na}/_sandbox/faults`, {
          method: "PUT",
          body: "explode",
          key: null
        })
        assert.strictEqual(invalid.status, 400)
        assert.include(String(pick(invalid.json(), "message")), 'unknown fault "explode"')
        yield* get(`${origins.na}/_sandbox/faults`, { method: "DELETE", key: null })
        assert.strictEqual((yield* get(seedPath(urls.na))).status, 200)

        yield* get(`${origins.eu}/_sandbox/faults?region=all`, {
          method: "PUT",
          body: "status=418",
          key: null
        })
        for (const url of [urls.eu, urls.na]) {
          const teapot = yield* get(seedPath(url))
          assert.strictEqual(teapot.status, 418)
          assert.deepStrictEqual(teapot.json(), { message: "Sandbox fault: status 418", code: "BAD_REQUEST" })
        }
        const unknownRegion = yield* get(`${origins.eu}/_sandbox/faults?region=apac`, { key: null })
        assert.strictEqual(unknownRegion.status, 400)
      })
  )

  it.scopedLive("the admin port stays up with both regions down, and brings them back", () =>
    Effect.gen(function* () {
      const { admin, adminPort, ports, urls } = yield* start()
      assert.strictEqual(admin, `http://127.0.0.1:${adminPort}`)
      assert.notInclude([ports.eu, ports.na], adminPort)
      // A spec without ?region= applies to both regions here: no region owns this port.
      const down = yield* get(`${admin}/_sandbox/faults`, { method: "PUT", body: "down", key: null })
      assert.strictEqual(down.status, 200)
      assert.strictEqual(pick(down.json(), "na", "spec"), "down")
      for (const url of [urls.eu, urls.na])
        assert.strictEqual(causeCode(yield* getFailure(seedPath(url))), "ECONNREFUSED")
      const view = (yield* get(`${admin}/_sandbox/faults`, { key: null })).json()
      assert.strictEqual(pick(view, "eu", "spec"), "down")
      const healed = yield* get(`${admin}/_sandbox/faults`, { method: "DELETE", key: null })
      assert.strictEqual(healed.status, 200)
      for (const url of [urls.eu, urls.na]) assert.strictEqual((yield* get(seedPath(url))).status, 200)
      // One region at a time, and only the admin routes.
      yield* get(`${admin}/_sandbox/faults?region=na`, { method: "PUT", body: "status=503", key: null })
      assert.strictEqual((yield* get(seedPath(urls.eu))).status, 200)
      assert.strictEqual((yield* get(seedPath(urls.na))).status, 503)
      assert.strictEqual((yield* get(seedPath(admin))).status, 404)
    })
  )

  it.scopedLive(
    "counts requests per region by outcome and status, readable by the admin route and in code",
    () =>
      Effect.gen(function* () {
        const { origins, sandbox, urls } = yield* start({ faults: { na: "status=503,first=1" } })
        yield* get(seedPath(urls.eu))
        yield* get(seedPath(urls.eu), { key: null })
        yield* get(convo(urls.eu, "a", Fixtures.ids.notFound))
        yield* get(`${origins.eu}/nowhere`)
        yield* get(seedPath(urls.na))
        yield* get(seedPath(urls.na))
        const eu = yield* sandbox.counters("eu")
        assert.deepStrictEqual(eu, {
          requests: 4,
          byOutcome: { ok: 1, unauthorized: 1, "not-found": 1, "route-not-found": 1 },
          byStatus: { "200": 1, "401": 1, "404": 2 }
        })
        const viaAdmin = (yield* get(`${origins.eu}/_sandbox/counters`, { key: null })).json()
        assert.deepStrictEqual(pick(viaAdmin, "eu"), eu)
        assert.deepStrictEqual(pick(viaAdmin, "na", "byOutcome"), { status: 1, ok: 1 })
        yield* get(`${origins.eu}/_sandbox/counters?region=eu`, { method: "DELETE", key: null })
        assert.strictEqual((yield* sandbox.counters("eu")).requests, 0)
        assert.strictEqual((yield* sandbox.counters("na")).requests, 2)
      })
  )
})

describe("Listener: the list route over loopback", () => {
  it.scopedLive(
    "walks every page of an agent, and the get route serves every listed id, in both regions",
    () =>
      Effect.gen(function* () {
        const { urls } = yield* start({ conversations: { "agent-loop": 33 } })
        for (const region of ["eu", "na"] as const) {
          const pages = yield* walk(get, urls[region], "agent-loop", 10)
          assert.deepStrictEqual(
            pages.map((page) => page.data?.length),
            [10, 10, 10, 3]
          )
          const listed = rows(pages)
          assert.strictEqual(new Set(listed.map((row) => row.ID)).size, 33)
          for (const row of listed) {
            const got = yield* get(convo(urls[region], "agent-loop", row.ID ?? ""))
            assert.strictEqual(got.status, 200)
            assert.strictEqual(pick(got.json(), "data", "ts"), row.ts)
          }
        }
      })
  )

  it.scopedLive("the demo agent lists its fixture documents among the generated ones", () =>
    Effect.gen(function* () {
      const { urls } = yield* start()
      const ids = rows(yield* walk(get, urls.eu, Fixtures.demoAgent)).map((row) => row.ID)
      assert.strictEqual(ids.length, 48)
      assert.strictEqual(ids[0], Fixtures.ids.dashboard)
      assert.includeMembers(ids, [Fixtures.ids.apiCreated, Fixtures.ids.voiceCall])
    })
  )

  it.scopedLive("down refuses the list route; truncated cuts a page; a 429 from the get route's bucket", () =>
    Effect.gen(function* () {
      const { sandbox, urls } = yield* start({ faults: { na: "rate=1/m" } })
      yield* sandbox.setFaults("eu", "down")
      assert.strictEqual(causeCode(yield* getFailure(list(urls.eu, "agent-x"))), "ECONNREFUSED")
      yield* sandbox.setFaults("eu", "truncated")
      assert.instanceOf(yield* getFailure(list(urls.eu, "agent-x")), Error)
      assert.strictEqual((yield* get(convo(urls.na, "agent-x", "c1"))).status, 200)
      const limited = yield* get(list(urls.na, "agent-x"))
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers.get("retry-after"), "60")
    })
  )
})
