import { ConnectFailure, seedExampleResponse } from "@convocore-effect/schema"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Option, Stream, TestClock } from "effect"
import { Fixtures, Sandbox } from "../src/index.js"
import { causeCode, convo, get, list } from "./services/Http.js"
import { fetchInProcess, inProcess } from "./services/InProcess.js"
import { start } from "./services/Listeners.js"

const seedBytes = JSON.stringify(seedExampleResponse)

describe("InProcess", () => {
  it.effect("serves both regions' base URLs with no socket", () =>
    Effect.gen(function* () {
      const { urls } = yield* Sandbox.Endpoints
      const eu = yield* fetchInProcess(convo(urls.eu, Fixtures.demoAgent, Fixtures.ids.seedExample))
      assert.strictEqual(eu.status, 200)
      assert.strictEqual(eu.text, seedBytes)
      assert.strictEqual(eu.headers["x-sandbox-region"], "eu")
      const na = yield* fetchInProcess(convo(urls.na, Fixtures.euOnlyAgent, "c1"))
      assert.strictEqual(na.status, 404)
      assert.strictEqual(na.headers["x-sandbox-region"], "na")
    }).pipe(Effect.provide(inProcess()))
  )

  it.effect("down fails like a refused connection; other hosts fail like a DNS miss", () =>
    Effect.gen(function* () {
      const { urls } = yield* Sandbox.Endpoints
      const refused = yield* Effect.flip(fetchInProcess(convo(urls.eu, Fixtures.demoAgent, "c1")))
      assert.strictEqual(refused._tag, "RequestError")
      if (refused._tag === "RequestError") assert.strictEqual(refused.reason, "Transport")
      assert.strictEqual(causeCode(refused), "ECONNREFUSED")
      assert.isTrue(
        ConnectFailure.isConnectFailure(refused.cause),
        "the client reads it as a connect failure"
      )
      assert.strictEqual((yield* fetchInProcess(convo(urls.na, Fixtures.demoAgent, "c1"))).status, 200)
      const elsewhere = yield* Effect.flip(fetchInProcess("http://elsewhere.invalid/v3/agents/a/convos/b"))
      assert.strictEqual(elsewhere._tag, "RequestError")
      assert.isTrue(ConnectFailure.isConnectFailure(elsewhere.cause))
      assert.strictEqual((yield* (yield* Sandbox.Sandbox).counters("eu")).byOutcome.refused, 1)
    }).pipe(Effect.provide(inProcess({ faults: { eu: "down" } })))
  )

  it.effect("hang never answers: a client timeout fires (TestClock)", () =>
    Effect.gen(function* () {
      const { urls } = yield* Sandbox.Endpoints
      const fiber = yield* Effect.fork(
        Effect.timeoutOption(fetchInProcess(convo(urls.eu, Fixtures.demoAgent, "c1")), Duration.seconds(10))
      )
      yield* TestClock.adjust("10 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.join(fiber)))
    }).pipe(Effect.provide(inProcess({ faults: { eu: "hang" } })))
  )

  it.effect("down,for=5s then healthy, and a bucket that refills, on the TestClock", () =>
    Effect.gen(function* () {
      const { urls } = yield* Sandbox.Endpoints
      const sandbox = yield* Sandbox.Sandbox
      const url = convo(urls.eu, Fixtures.demoAgent, "c1")
      assert.strictEqual((yield* Effect.flip(fetchInProcess(url)))._tag, "RequestError")
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* fetchInProcess(url)).status, 200)
      yield* sandbox.setFaults("eu", "rate=1/2s")
      assert.strictEqual((yield* fetchInProcess(url)).status, 200)
      const limited = yield* fetchInProcess(url)
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after"], "2")
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* fetchInProcess(url)).status, 200)
    }).pipe(Effect.provide(inProcess({ faults: { eu: "down,for=5s" } })))
  )

  it.effect("slow bodies and truncation stream the same way as on the wire", () =>
    Effect.gen(function* () {
      const { urls } = yield* Sandbox.Endpoints
      const url = convo(urls.eu, Fixtures.demoAgent, Fixtures.ids.seedExample)
      const slow = yield* Effect.fork(fetchInProcess(url, { "x-sandbox-fault": "slow-body=1s" }))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(slow)).text, seedBytes)
      const truncated = yield* Effect.flip(fetchInProcess(url, { "x-sandbox-fault": "truncated" }))
      assert.strictEqual(truncated._tag, "ResponseError")
    }).pipe(Effect.provide(inProcess()))
  )

  it.effect("every reader of a response gives the same body, delivered once", () =>
    Effect.gen(function* () {
      const { urls } = yield* Sandbox.Endpoints
      const client = yield* HttpClient.HttpClient
      const request = (fault: string) =>
        HttpClientRequest.get(convo(urls.eu, Fixtures.demoAgent, Fixtures.ids.seedExample)).pipe(
          HttpClientRequest.bearerToken(Fixtures.demoApiKey),
          HttpClientRequest.setHeader("x-sandbox-fault", fault)
        )
      const slow = yield* client.execute(request("slow-body=1s"))
      const text = yield* Effect.fork(slow.text)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(text), seedBytes)
      // The clock stands still from here: a reader that waited for a second delivery would never end.
      assert.deepStrictEqual(yield* slow.json, seedExampleResponse)
      assert.strictEqual(new TextDecoder().decode(yield* slow.arrayBuffer), seedBytes)
      const plain = yield* client.execute(request("none"))
      const chunks = yield* Stream.runCollect(plain.stream)
      assert.strictEqual(
        Chunk.join(
          Chunk.map(chunks, (bytes) => new TextDecoder().decode(bytes)),
          ""
        ),
        seedBytes
      )
      assert.strictEqual(plain.headers["content-length"], String(Buffer.byteLength(seedBytes)))
    }).pipe(Effect.provide(inProcess()))
  )

  it.effect("the admin route works in-process too", () =>
    Effect.gen(function* () {
      const client = yield* HttpClient.HttpClient
      const put = yield* client.execute(
        HttpClientRequest.put("http://eu.sandbox.invalid/_sandbox/faults").pipe(
          HttpClientRequest.bodyText("status=504,first=1")
        )
      )
      assert.strictEqual(put.status, 200)
      const { urls } = yield* Sandbox.Endpoints
      const url = convo(urls.eu, Fixtures.demoAgent, "c1")
      assert.strictEqual((yield* fetchInProcess(url)).status, 504)
      assert.strictEqual((yield* fetchInProcess(url)).status, 200)
    }).pipe(Effect.provide(inProcess()))
  )
})

describe("InProcess and Listener", () => {
  it.scopedLive("return identical statuses and bytes for the same requests", () =>
    Effect.gen(function* () {
      const options: Sandbox.SandboxOptions = { seed: 5, faults: { na: "drift" } }
      const { urls } = yield* start(options)
      const cases: ReadonlyArray<readonly [string, string, Record<string, string>]> = [
        ["eu", convo("/v3", Fixtures.demoAgent, Fixtures.ids.seedExample), {}],
        ["eu", convo("/v3", Fixtures.demoAgent, Fixtures.ids.voiceCall), {}],
        ["eu", convo("/v3", "agent-q", "7EKgZfeuq82eFZZ"), {}],
        ["eu", convo("/v3", "agent/q", "a b"), {}],
        ["eu", convo("/v3", "x", Fixtures.ids.forbidden), {}],
        ["eu", convo("/v3", Fixtures.naOnlyAgent, "c"), {}],
        ["eu", "/nowhere", {}],
        ["eu", list("/v3", Fixtures.demoAgent, "limit=7"), {}],
        ["na", list("/v3", "agent-q", "limit=3"), {}],
        ["eu", list("/v3", "agent-q", "page=2"), {}],
        ["eu", list("/v3", Fixtures.naOnlyAgent), {}],
        [
          "eu",
          convo("/v3", Fixtures.demoAgent, Fixtures.ids.seedExample),
          { "x-sandbox-fault": "malformed" }
        ],
        [
          "eu",
          convo("/v3", Fixtures.demoAgent, Fixtures.ids.seedExample),
          { "x-sandbox-fault": "status=503" }
        ],
        ["na", convo("/v3", "agent-q", "c1"), {}],
        [
          "na",
          convo("/v3", Fixtures.demoAgent, Fixtures.ids.minimal),
          { "x-sandbox-fault": "broken-primitive" }
        ]
      ]
      const inProcessLayer = inProcess(options)
      const origin = (base: string) => base.replace(/\/v3$/, "")
      const statuses = new Set<number>()
      for (const [region, path, headers] of cases) {
        const wire = yield* get(`${origin(region === "eu" ? urls.eu : urls.na)}${path}`, { headers })
        const local = yield* Effect.gen(function* () {
          const { urls: local } = yield* Sandbox.Endpoints
          return yield* fetchInProcess(`${origin(region === "eu" ? local.eu : local.na)}${path}`, headers)
        }).pipe(Effect.provide(inProcessLayer))
        statuses.add(wire.status)
        assert.strictEqual(local.status, wire.status, `${region} ${path}`)
        assert.strictEqual(local.text, wire.text, `${region} ${path}`)
        assert.strictEqual(local.headers["content-type"], wire.headers.get("content-type"))
      }
      // The cases reach the document route, not only the unknown-route answer.
      assert.deepStrictEqual([...statuses].sort(), [200, 400, 403, 404, 503])
    })
  )
})
