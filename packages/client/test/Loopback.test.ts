/**
 * Over real loopback HTTP with real undici transports: NA is a small `node:http` server,
 * EU a port with nothing listening, so its connections are really refused.
 */

import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { seedExampleResponse } from "@convocore-effect/schema"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, identity, Layer, Schedule } from "effect"
import {
  Convocore,
  ConvocoreConfig,
  type ConvocoreConfigInput,
  UndiciTransport,
  userAgent
} from "../src/index.js"
import { outline } from "./services/Run.js"
import { SECRET } from "./services/ScriptedTransport.js"

const portOf = (address: AddressInfo | string | null) =>
  typeof address === "object" && address !== null ? address.port : 0

const listen = (server: Server) =>
  Effect.async<number>((resume) => {
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(portOf(server.address()))))
  })

const close = (server: Server) =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
  })

/** A port that was just free: listen, note it, close. Nothing listens there afterwards. */
const refusingPort = Effect.gen(function* () {
  const server = createServer()
  const port = yield* listen(server)
  yield* close(server)
  return port
})

const naServer = (seen: Array<{ url: string; headers: IncomingHttpHeaders }>) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const server = createServer((req, res) => {
        seen.push({ url: req.url ?? "", headers: req.headers })
        res.writeHead(200, { "content-type": "application/json", "x-request-id": "na-1" })
        res.end(JSON.stringify(seedExampleResponse))
      })
      const port = yield* listen(server)
      return { server, port }
    }),
    ({ server }) => close(server)
  )

/**
 * Ours (the production default); ours wrapped by `HttpClient.mapRequest`, which must behave the same
 * (a combinator never changes how attempts are timed or cancelled); and @effect/platform-node's, which
 * the layer also accepts.
 */
const wrappedUndici = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(HttpClient.HttpClient, HttpClient.mapRequest(identity))
).pipe(Layer.provide(UndiciTransport.layer))

const transports = [
  ["UndiciTransport", UndiciTransport.layer],
  ["UndiciTransport wrapped by mapRequest", wrappedUndici],
  ["NodeHttpClient.layerUndici", NodeHttpClient.layerUndici]
] as const

describe.each(transports)("over loopback HTTP with %s", (_, transport) => {
  /** The client over this transport, pointed at one endpoint (no failover). */
  const singleEndpoint = (port: number, config: Partial<ConvocoreConfigInput>) =>
    Convocore.Default.pipe(
      Layer.provide(transport),
      Layer.provide(
        ConvocoreConfig.layer({ apiKey: SECRET, baseUrl: `http://127.0.0.1:${port}/v3`, ...config })
      )
    )
  /** Listens for the scope's lifetime; connections left open (a hang) are cut when it ends. */
  const listenScoped = (server: Server) =>
    Effect.acquireRelease(listen(server), () =>
      Effect.sync(() => server.closeAllConnections()).pipe(Effect.zipRight(close(server)))
    )
  const getOne = Convocore.use((c) => c.getConversation({ agentId: "a", convoId: "b" }))

  it.scopedLive(
    "EU refuses connections, NA answers: the call succeeds via NA, the trail shows EU connect-failed",
    () =>
      Effect.gen(function* () {
        const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = []
        const { port } = yield* naServer(seen)
        const euPort = yield* refusingPort
        const layer = Convocore.Default.pipe(
          Layer.provide(transport),
          Layer.provide(
            ConvocoreConfig.layer({
              apiKey: SECRET,
              euUrl: `http://127.0.0.1:${euPort}/v3`,
              naUrl: `http://127.0.0.1:${port}/v3`
            })
          )
        )
        const { result, attempts } = yield* Convocore.use((c) =>
          c.getConversationWithTrail({ agentId: "agent 1/x", convoId: "convo456" })
        ).pipe(Effect.provide(layer))
        assert.isTrue(Either.isRight(result))
        if (Either.isRight(result)) assert.strictEqual(result.right.ID, seedExampleResponse.data.ID)
        assert.deepStrictEqual(outline(attempts), ["eu:connect-failed", "na:ok"])
        assert.strictEqual(seen.length, 1)
        assert.strictEqual(seen[0]?.url, "/v3/agents/agent%201%2Fx/convos/convo456")
        assert.strictEqual(seen[0]?.headers.authorization, `Bearer ${SECRET}`)
        assert.strictEqual(seen[0]?.headers["user-agent"], userAgent)
      }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("a server that never answers hits the attempt timeout on the real clock", () =>
    Effect.gen(function* () {
      const server = createServer(() => {
        // Never answers.
      })
      const port = yield* listenScoped(server)
      const layer = singleEndpoint(port, { maxAttempts: 1, attemptTimeout: "300 millis" })
      const started = Date.now()
      const error = yield* Effect.flip(getOne.pipe(Effect.provide(layer)))
      const elapsed = Date.now() - started
      assert.isTrue(error._tag === "Timeout" && error.scope === "attempt", JSON.stringify(error))
      assert.isAtLeast(elapsed, 290)
      assert.isBelow(elapsed, 5_000)
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("a body cut short by the server is a truncated InvalidResponse", () =>
    Effect.gen(function* () {
      const server = createServer((_, res) => {
        const body = JSON.stringify(seedExampleResponse)
        res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) })
        res.flushHeaders()
        // Close the socket mid-body, once the head is out: the client must not take the fragment for a document.
        res.write(body.slice(0, 20), () => setTimeout(() => res.socket?.destroy(), 20))
      })
      const port = yield* listenScoped(server)
      const layer = singleEndpoint(port, { maxAttempts: 2 })
      const error = yield* Effect.flip(getOne.pipe(Effect.provide(layer)))
      assert.isTrue(error._tag === "InvalidResponse" && error.reason === "truncated", JSON.stringify(error))
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("a body that trickles past the attempt timeout is cut off on time", () =>
    Effect.gen(function* () {
      const server = createServer((_, res) => {
        const body = JSON.stringify(seedExampleResponse)
        res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) })
        res.write(body.slice(0, 10))
        // The rest never comes while the client waits.
      })
      const port = yield* listenScoped(server)
      const layer = singleEndpoint(port, { maxAttempts: 1, attemptTimeout: "300 millis" })
      const started = Date.now()
      const error = yield* Effect.flip(getOne.pipe(Effect.provide(layer)))
      assert.isTrue(error._tag === "Timeout" && error.scope === "attempt", JSON.stringify(error))
      assert.isBelow(Date.now() - started, 5_000)
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("once an attempt has run, later ones are timed as well: a hang and a trickling body", () =>
    Effect.gen(function* () {
      let served = 0
      const server = createServer((_, res) => {
        served++
        const body = JSON.stringify(seedExampleResponse)
        if (served === 1) {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(body)
        } else if (served === 3) {
          res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) })
          res.write(body.slice(0, 10))
        }
        // The second request is never answered; the third's body never ends.
      })
      const port = yield* listenScoped(server)
      const layer = singleEndpoint(port, { maxAttempts: 1, attemptTimeout: "300 millis" })
      yield* Effect.gen(function* () {
        const convocore = yield* Convocore
        const get = convocore.getConversation({ agentId: "agent123", convoId: "convo456" })
        yield* get
        for (const _ of ["hang", "trickle"]) {
          const started = Date.now()
          const error = yield* Effect.flip(get)
          const elapsed = Date.now() - started
          assert.isTrue(error._tag === "Timeout" && error.scope === "attempt", JSON.stringify(error))
          assert.isAtLeast(elapsed, 290)
          assert.isBelow(elapsed, 5_000)
        }
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.timeout("20 seconds"))
  )

  /** A server that takes requests and never answers; `closed` completes when a request's connection ends. */
  const silentServer = Effect.gen(function* () {
    const arrived = yield* Deferred.make<void>()
    const closed = yield* Deferred.make<void>()
    const server = createServer((req) => {
      Deferred.unsafeDone(arrived, Effect.void)
      req.socket.once("close", () => Deferred.unsafeDone(closed, Effect.void))
    })
    const port = yield* listenScoped(server)
    return { port, arrived, closed }
  })

  it.scopedLive("a timed-out attempt closes its connection instead of leaving it to hang", () =>
    Effect.gen(function* () {
      const { port, closed } = yield* silentServer
      const layer = singleEndpoint(port, { maxAttempts: 1, attemptTimeout: "300 millis" })
      const error = yield* Effect.flip(getOne.pipe(Effect.provide(layer)))
      assert.strictEqual(error._tag, "Timeout")
      // The server sees the connection end: the abort reached the socket.
      yield* Deferred.await(closed).pipe(Effect.timeout("3 seconds"))
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("interrupting a call aborts its request in flight", () =>
    Effect.gen(function* () {
      const { port, arrived, closed } = yield* silentServer
      const layer = singleEndpoint(port, { maxAttempts: 1, attemptTimeout: "30 seconds" })
      const call = yield* Effect.fork(getOne.pipe(Effect.provide(layer)))
      yield* Deferred.await(arrived)
      yield* Fiber.interrupt(call)
      yield* Deferred.await(closed).pipe(Effect.timeout("3 seconds"))
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("a hedge that wins from NA aborts the request still waiting on EU", () =>
    Effect.gen(function* () {
      const { port: euPort, arrived, closed } = yield* silentServer
      const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = []
      const { port: naPort } = yield* naServer(seen)
      const layer = Convocore.Default.pipe(
        Layer.provide(transport),
        Layer.provide(
          ConvocoreConfig.layer({
            apiKey: SECRET,
            region: "eu",
            euUrl: `http://127.0.0.1:${euPort}/v3`,
            naUrl: `http://127.0.0.1:${naPort}/v3`,
            attemptTimeout: "30 seconds",
            hedgeDelay: "50 millis"
          })
        )
      )
      const { result, attempts } = yield* Convocore.use((c) =>
        c.getConversationWithTrail({ agentId: "a", convoId: "b" })
      ).pipe(Effect.provide(layer))
      assert.isTrue(Either.isRight(result))
      assert.deepStrictEqual(outline(attempts), ["na:ok", "eu:interrupted"])
      assert.strictEqual(seen.length, 1)
      // EU had the request (the hedge raced it), and the loser's connection is closed, not left to hang.
      yield* Deferred.await(arrived)
      yield* Deferred.await(closed).pipe(Effect.timeout("3 seconds"))
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("an attempt timeout longer than a timer can count does not cut the call short", () =>
    Effect.gen(function* () {
      const server = createServer((_, res) => {
        setTimeout(() => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(seedExampleResponse))
        }, 100)
      })
      const port = yield* listenScoped(server)
      const layer = singleEndpoint(port, { maxAttempts: 1 })
      // 30 days is past setTimeout's 2^31 - 1 ms, which Node would otherwise fire after 1 ms.
      const document = yield* Convocore.use((c) =>
        c.getConversation({ agentId: "a", convoId: "b" }, { attemptTimeout: "30 days", deadline: "31 days" })
      ).pipe(Effect.provide(layer))
      assert.strictEqual(document.ID, seedExampleResponse.data.ID)
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("a deadline shorter than the attempt timeout ends the call on the deadline", () =>
    Effect.gen(function* () {
      const { port } = yield* silentServer
      const layer = singleEndpoint(port, { attemptTimeout: "10 seconds", deadline: "400 millis" })
      const started = Date.now()
      const error = yield* Effect.flip(getOne.pipe(Effect.provide(layer)))
      const elapsed = Date.now() - started
      assert.isTrue(error._tag === "Timeout" && error.scope === "deadline", JSON.stringify(error))
      assert.isAtLeast(elapsed, 390)
      assert.isBelow(elapsed, 5_000)
    }).pipe(Effect.timeout("20 seconds"))
  )
})

describe("UndiciTransport's pools", () => {
  it.scopedLive("a region that refused connections is reached once it listens again", () =>
    Effect.gen(function* () {
      const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = []
      const na = yield* naServer(seen)
      const euPort = yield* refusingPort
      const layer = Convocore.Default.pipe(
        Layer.provide(UndiciTransport.layer),
        Layer.provide(
          ConvocoreConfig.layer({
            apiKey: SECRET,
            euUrl: `http://127.0.0.1:${euPort}/v3`,
            naUrl: `http://127.0.0.1:${na.port}/v3`,
            breakerThreshold: 1_000
          })
        )
      )
      const trailOfOneCall = Convocore.use((c) =>
        c.getConversationWithTrail({ agentId: "a", convoId: "b" })
      ).pipe(Effect.map(({ attempts }) => outline(attempts)))
      yield* Effect.gen(function* () {
        // EU's pool is kept after each refusal...
        for (let i = 0; i < 3; i++)
          assert.deepStrictEqual(yield* trailOfOneCall, ["eu:connect-failed", "na:ok"])
        // ...and connects once EU listens on its port.
        const eu = createServer((_, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(seedExampleResponse))
        })
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => {
            eu.listen(euPort, "127.0.0.1", () => resume(Effect.void))
          }),
          () => Effect.sync(() => eu.closeAllConnections()).pipe(Effect.zipRight(close(eu)))
        )
        assert.deepStrictEqual(yield* trailOfOneCall, ["eu:ok"])
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("past maxOrigins the oldest origin's pool is closed, and its idle connection with it", () =>
    Effect.gen(function* () {
      const closed: Array<number> = []
      const servers = yield* Effect.forEach([0, 1, 2], (index) =>
        Effect.acquireRelease(
          Effect.gen(function* () {
            const server = createServer((_, res) => res.end("ok"))
            server.on("connection", (socket) => socket.once("close", () => closed.push(index)))
            return { server, port: yield* listen(server) }
          }),
          ({ server }) => Effect.sync(() => server.closeAllConnections()).pipe(Effect.zipRight(close(server)))
        )
      )
      const pools = new UndiciTransport.OriginPools({ keepAliveTimeout: 30_000 }, 2)
      yield* Effect.addFinalizer(() => Effect.promise(() => pools.close()))
      for (const { port } of servers) {
        const response = yield* Effect.promise(() =>
          pools.request({ origin: `http://127.0.0.1:${port}`, path: "/", method: "GET" })
        )
        yield* Effect.promise(() => response.body.text())
      }
      // The third origin evicted the first: its keep-alive connection ends; the other two stay open.
      yield* Effect.repeat(
        Effect.sync(() => closed.length),
        { until: (n) => n > 0, schedule: Schedule.spaced("20 millis") }
      ).pipe(Effect.timeout("3 seconds"))
      assert.deepStrictEqual(closed, [0])
    }).pipe(Effect.timeout("20 seconds"))
  )
})
