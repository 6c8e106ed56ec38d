import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger } from "effect"
import type { Answer } from "../src/Answers.js"
import * as FastPath from "../src/FastPath.js"
import { GatewayConfig } from "../src/GatewayConfig.js"
import { GatewayMetrics } from "../src/GatewayMetrics.js"
import { Lifecycle } from "../src/Lifecycle.js"
import { ResponseCache } from "../src/ResponseCache.js"
import { bearer, fetchRaw, gatewaySettings } from "./services/Stack.js"

const settings = gatewaySettings({ cacheTtl: "0", staleIfError: "0" })
const services = Layer.mergeAll(ResponseCache.layer, Lifecycle.layer).pipe(
  Layer.provideMerge(Layer.mergeAll(GatewayConfig.layer(settings), GatewayMetrics.layer))
)

/** A Node server whose every request meets a fast path answering misses with `answer`. */
const serve = (answer: (onAnswer: (answer: Exit.Exit<Answer>) => void) => void) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(services)
    const lifecycle = Context.get(context, Lifecycle)
    const fastPath = FastPath.make({
      settings,
      cache: Context.get(context, ResponseCache),
      metrics: Context.get(context, GatewayMetrics),
      lifecycle,
      log: undefined,
      miss: {
        answer: (_caller, _path, _runtime, onAnswer) => {
          answer(onAnswer)
          return () => {}
        },
        runtime: yield* Effect.runtime<never>(),
        track: () => {}
      }
    })
    const server = Http.createServer((request, response) => {
      if (!fastPath(request, response)) response.writeHead(404).end()
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () => Effect.sync(() => server.close())
    )
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/agents/a1/convos/c1`
    return { url, lifecycle }
  })

const refused: Answer = {
  status: 200,
  contentType: "application/json",
  // Node refuses a header value with a line break.
  headers: { "x-upstream-request-id": "abc\r\ninjected: 1" },
  body: new TextEncoder().encode("{}")
}

/** The messages logged while `effect` runs (and by what it started), in place of the default logger's output. */
const logged = <A, E, R>(effect: (lines: ReadonlyArray<string>) => Effect.Effect<A, E, R>) => {
  const lines: Array<string> = []
  const recorder = Logger.make(({ message }) => {
    lines.push(String(Array.isArray(message) ? message.join(" ") : message))
  })
  return Effect.provide(effect(lines), Logger.replace(Logger.defaultLogger, recorder))
}

describe("the fast path's misses", () => {
  it.scopedLive("an answer Node refuses to write is the request's 500, and the gateway goes on", () =>
    logged((lines) =>
      Effect.gen(function* () {
        let next: Answer = refused
        const { url, lifecycle } = yield* serve((onAnswer) =>
          setImmediate(() => onAnswer(Exit.succeed(next)))
        )
        const first = yield* Effect.promise(() => fetchRaw(url, bearer("token")))
        assert.strictEqual(first.status, 500)
        assert.isNull(first.headers.get("injected"))
        next = { ...refused, headers: {} }
        const second = yield* Effect.promise(() => fetchRaw(url, bearer("token")))
        assert.strictEqual(second.status, 200)
        assert.strictEqual(lifecycle.inFlight(), 0)
        assert.deepStrictEqual(lines, ["Request failed"])
      })
    )
  )

  it.scopedLive("a throw while the answer is being made is the request's 500, not a crash", () =>
    logged((lines) =>
      Effect.gen(function* () {
        const { url, lifecycle } = yield* serve(() => {
          throw new Error("a defect in the route's answer")
        })
        const answer = yield* Effect.promise(() => fetchRaw(url, bearer("token")))
        assert.strictEqual(answer.status, 500)
        assert.strictEqual(lifecycle.inFlight(), 0)
        assert.deepStrictEqual(lines, ["Request failed"])
      })
    )
  )
})
