import { Clock, Effect, Fiber, TestClock } from "effect"
import type { CallOptions } from "../../src/index.js"
import { Convocore } from "../../src/index.js"
import { ref } from "./ScriptedTransport.js"

/**
 * Runs one call to completion under the test clock: forked, the clock moved far past any deadline,
 * joined. `endedAt` is the test clock when the call finished.
 */
export const runTraced = (options?: CallOptions, target: { agentId: string; convoId: string } = ref) =>
  Effect.gen(function* () {
    const convocore = yield* Convocore
    const fiber = yield* Effect.fork(
      Effect.zip(convocore.getConversationWithTrail(target, options), Clock.currentTimeMillis)
    )
    yield* TestClock.adjust("10 minutes")
    const [traced, endedAt] = yield* Fiber.join(fiber)
    return { ...traced, endedAt }
  })

/** The trail as `region:outcome` strings, the shortest readable form for assertions. */
export const outline = (attempts: ReadonlyArray<{ region: string; outcome: string }>) =>
  attempts.map((a) => `${a.region}:${a.outcome}`)
