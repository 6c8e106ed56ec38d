/**
 * Slow and abusive clients: connections that never finish their headers are cut within their deadline,
 * past the connection cap new connections are closed at once, and a normal caller is served throughout.
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { bearer, demoKey, seedPath, startStack } from "./services/Stack.js"

/** Opens a connection that sends the start of a request and never finishes its headers. */
const dribble = (port: number) =>
  new Promise<{ readonly socket: Net.Socket; readonly closedAfterMs: Promise<number> }>((resolve, reject) => {
    const opened = performance.now()
    const socket = Net.connect(port, "127.0.0.1", () => {
      socket.write("GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
      resolve({
        socket,
        closedAfterMs: new Promise((closed) => socket.once("close", () => closed(performance.now() - opened)))
      })
    })
    // Read whatever the gateway answers (a 408), so that its closing the connection is seen here.
    socket.resume()
    socket.on("error", () => {})
    socket.once("error", reject)
  })

describe("slow clients", () => {
  it.scopedLive(
    "connections dribbling their headers are cut after the headers timeout; others are served",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({ gateway: { headersTimeout: "1s" } })
        const slow = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 20 }, () => dribble(stack.gateway.port)))
        )
        const served = yield* stack.get(seedPath, bearer(demoKey))
        assert.strictEqual(served.status, 200)
        const closedAfter = yield* Effect.promise(() => Promise.all(slow.map((s) => s.closedAfterMs)))
        // Node checks every second: a deadline of 1 s cuts them between 1 and about 2 s.
        for (const ms of closedAfter) assert.isBelow(ms, 4_000)
      })
  )

  it.scopedLive("past the connection cap, new connections are closed at once", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({ gateway: { maxConnections: "5", headersTimeout: "30s" } })
      const held = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: 5 }, () => dribble(stack.gateway.port)))
      )
      const extra = yield* Effect.promise(() => dribble(stack.gateway.port))
      const extraClosedAfter = yield* Effect.promise(() => extra.closedAfterMs)
      assert.isBelow(extraClosedAfter, 1_000)
      // The five within the cap are still open, until this test lets them go.
      assert.isTrue(held.every(({ socket }) => !socket.destroyed))
      for (const { socket } of held) socket.destroy()
    })
  )
})
