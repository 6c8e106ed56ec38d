/**
 * A region that starts to hang under load: callers are answered by the other region within the hedge
 * delay with the gateway's defaults (an adaptive hedge), within a few seconds with the hedge off (a 3 s
 * attempt timeout), never after the CLI's 10 s attempt timeout.
 */
import type { ConvocoreConfigInput } from "@convocore-effect/client"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { clientDefaults } from "../src/Main.js"
import { bearer, conversationPath, demoKey, startStack } from "./services/Stack.js"

const auth = bearer(demoKey)

/** Warms the gateway up, makes EU hang, and checks that ten concurrent callers are answered from NA in time. */
const answeredSoon = (client: Partial<ConvocoreConfigInput>, within: number) =>
  Effect.gen(function* () {
    const stack = yield* startStack({ client: { deadline: 30_000, ...client } })
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
    assert.isBelow(took, within)
  })

describe("a region that starts to hang", () => {
  it.scopedLive("with the gateway's defaults, callers are answered within the learned hedge delay", () =>
    // The learned delay is at most 2 s (and here far less), well before the 3 s attempt timeout.
    answeredSoon(
      {
        hedgeDelay: clientDefaults.CONVOCORE_HEDGE_DELAY,
        attemptTimeout: clientDefaults.CONVOCORE_ATTEMPT_TIMEOUT
      },
      2_500
    )
  )

  it.scopedLive("with the hedge off, callers are answered by the other region within a few seconds", () =>
    answeredSoon({ hedgeDelay: "off", attemptTimeout: clientDefaults.CONVOCORE_ATTEMPT_TIMEOUT }, 5_000)
  )
})
