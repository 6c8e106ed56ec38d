/**
 * The hedge over a transport that enforces attempt limits (UndiciTransport, once a layer has seen it do
 * so): the primary attempt runs in the calling fiber and is handed over only when it has no answer at the
 * hedge delay; the race with the other region starts then. Real loopback servers whose answers are
 * delayed on demand; every call after the first (which teaches the layer its transport) takes this path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { seedExampleResponse } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Either, Fiber, Layer, Supervisor } from "effect"
import { Convocore, ConvocoreConfig, UndiciTransport } from "../src/index.js"
import { outline } from "./services/Run.js"
import { SECRET } from "./services/ScriptedTransport.js"

/** How a region answers the next request: at once, after `ms`, with a status, or never. */
type Behaviour =
  | { readonly _tag: "answer"; readonly afterMs: number; readonly status: number }
  | { readonly _tag: "hang" }

interface Region {
  /** Set once the server listens. */
  port: number
  behaviour: Behaviour
  /** Requests received, and requests whose connection closed before an answer was sent. */
  readonly stats: { received: number; abandoned: number }
}

const body = JSON.stringify(seedExampleResponse)

const region = Effect.acquireRelease(
  Effect.async<{ readonly server: Server; readonly region: Region }>((resume) => {
    const region: Region = {
      port: 0,
      behaviour: { _tag: "answer", afterMs: 0, status: 200 },
      stats: { received: 0, abandoned: 0 }
    }
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      region.stats.received++
      const behaviour = region.behaviour
      let answered = false
      req.socket.once("close", () => {
        if (!answered) region.stats.abandoned++
      })
      if (behaviour._tag === "hang") return
      setTimeout(() => {
        if (res.destroyed) return
        answered = true
        res.writeHead(behaviour.status, { "content-type": "application/json" })
        res.end(behaviour.status === 200 ? body : JSON.stringify({ success: false, message: "unavailable" }))
      }, behaviour.afterMs)
    })
    server.listen(0, "127.0.0.1", () => {
      region.port = (server.address() as AddressInfo).port
      resume(Effect.succeed({ server, region }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ region }) => region))

const answer = (afterMs: number, status = 200): Behaviour => ({ _tag: "answer", afterMs, status })

/** Waits (up to 3 s) until `count()` reaches `expected`: an abort reaches the server's socket a moment later. */
const eventually = (count: () => number, expected: number) =>
  Effect.gen(function* () {
    for (let waited = 0; waited < 3_000 && count() < expected; waited += 20) yield* Effect.sleep("20 millis")
    assert.strictEqual(count(), expected)
  })

/** EU and NA on loopback, a client over UndiciTransport hedging after `hedgeDelay`, taught by one call. */
const setup = (hedgeDelay = "60 millis") =>
  Effect.gen(function* () {
    const eu = yield* region
    const na = yield* region
    const layer = Convocore.Default.pipe(
      Layer.provide(UndiciTransport.layer),
      Layer.provide(
        ConvocoreConfig.layer({
          apiKey: SECRET,
          region: "eu",
          euUrl: `http://127.0.0.1:${eu.port}/v3`,
          naUrl: `http://127.0.0.1:${na.port}/v3`,
          attemptTimeout: "5 seconds",
          hedgeDelay
        })
      )
    )
    const service = Context.get(yield* Layer.build(layer), Convocore)
    const call = service.getConversationWithTrail({ agentId: "a", convoId: "b" })
    // The first call teaches the layer that its transport enforces attempt limits.
    const first = yield* call
    assert.deepStrictEqual(outline(first.attempts), ["eu:ok"])
    eu.stats.received = 0
    na.stats.received = 0
    return { eu, na, call }
  })

/** Counts the fibers started under it. */
class ForkCount extends Supervisor.AbstractSupervisor<void> {
  started = 0
  get value() {
    return Effect.void
  }
  override onStart() {
    this.started++
  }
}

describe("the hedge over a transport that enforces attempt limits", () => {
  it.scopedLive("an answer before the delay: no race and no fiber, the other region never asked", () =>
    Effect.gen(function* () {
      // A delay no loopback answer can miss, even on a loaded machine.
      const { eu, na, call } = yield* setup("3 seconds")
      const forks = new ForkCount()
      for (let i = 0; i < 5; i++) {
        const { result, attempts } = yield* Effect.supervised(call, forks)
        assert.isTrue(Either.isRight(result))
        assert.deepStrictEqual(outline(attempts), ["eu:ok"])
      }
      assert.strictEqual(forks.started, 0, "no fiber was forked to wait for the hedge delay")
      assert.strictEqual(eu.stats.received, 5)
      assert.strictEqual(na.stats.received, 0)
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("EU hangs: NA, asked at the delay, answers; EU's request is aborted", () =>
    Effect.gen(function* () {
      const { eu, na, call } = yield* setup()
      eu.behaviour = { _tag: "hang" }
      const started = Date.now()
      const { result, attempts } = yield* call
      const elapsed = Date.now() - started
      assert.isTrue(Either.isRight(result))
      assert.deepStrictEqual(outline(attempts), ["na:ok", "eu:interrupted"])
      assert.isBelow(elapsed, 2_000, "the call did not wait for EU's attempt timeout")
      assert.strictEqual(na.stats.received, 1)
      // EU's connection is closed by the abort, not left to hang until the attempt timeout.
      yield* eventually(() => eu.stats.abandoned, 1)
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive(
    "EU answers after the delay but before NA: EU's answer wins and NA's request is aborted",
    () =>
      Effect.gen(function* () {
        const { eu, na, call } = yield* setup()
        eu.behaviour = answer(150)
        na.behaviour = { _tag: "hang" }
        const { result, attempts } = yield* call
        assert.isTrue(Either.isRight(result))
        assert.deepStrictEqual(outline(attempts), ["eu:ok", "na:interrupted"])
        assert.strictEqual(na.stats.received, 1)
        yield* Effect.sleep("300 millis")
        assert.strictEqual(na.stats.abandoned, 1)
      }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("NA fails fast while EU is slow: the call waits for EU's late answer", () =>
    Effect.gen(function* () {
      const { eu, na, call } = yield* setup()
      eu.behaviour = answer(250)
      na.behaviour = answer(0, 503)
      const { result, attempts } = yield* call
      assert.isTrue(Either.isRight(result))
      assert.deepStrictEqual(outline(attempts), ["na:server-error", "eu:ok"])
    }).pipe(Effect.timeout("20 seconds"))
  )

  it.scopedLive("interrupting a call during the race aborts both requests", () =>
    Effect.gen(function* () {
      const { eu, na, call } = yield* setup()
      eu.behaviour = { _tag: "hang" }
      na.behaviour = { _tag: "hang" }
      const fiber = yield* Effect.fork(call)
      // Past the delay: both requests are out.
      yield* eventually(() => eu.stats.received, 1)
      yield* eventually(() => na.stats.received, 1)
      yield* Fiber.interrupt(fiber)
      yield* eventually(() => eu.stats.abandoned, 1)
      yield* eventually(() => na.stats.abandoned, 1)
    }).pipe(Effect.timeout("20 seconds"))
  )
})
