/**
 * A region that starts to hang under load: with the gateway's client defaults (an adaptive hedge), callers
 * are answered by the other region within the hedge delay, not after a whole attempt timeout.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { clientDefaults } from "../src/Main.js"
import { bearer, conversationPath, demoKey, startStack } from "./services/Stack.js"

const auth = bearer(demoKey)

describe("a hanging region under the gateway's defaults", () => {
  it.scopedLive("callers are answered by the other region soon after EU starts to hang", () =>
    Effect.gen(function* () {
      const stack = yield* startStack({
        client: { hedgeDelay: clientDefaults.CONVOCORE_HEDGE_DELAY, attemptTimeout: 10_000, deadline: 30_000 }
      })
      // Healthy traffic first: the gateway learns how long EU takes.
      for (let i = 0; i < 25; i++)
        assert.strictEqual((yield* stack.get(conversationPath(`warm-${i}`), auth)).status, 200)
      yield* stack.setFaults({ eu: "hang" })
      const started = performance.now()
      const answers = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => conversationPath(`hang-${i}`)),
        (path) => stack.get(path, auth),
        { concurrency: 10 }
      )
      const took = performance.now() - started
      for (const answer of answers) {
        assert.strictEqual(answer.status, 200)
        assert.strictEqual(answer.headers.get("x-convocore-region"), "na")
      }
      // The learned delay is at most 2 s (and here far less): well before the 10 s attempt timeout.
      assert.isBelow(took, 5_000)
    })
  )
})
