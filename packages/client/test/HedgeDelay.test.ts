import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { defaultHedgeDelay, makeHedgeDelay } from "../src/HedgeDelay.js"

describe("HedgeDelay", () => {
  it("uses the initial delay until enough answers were seen, then their 95th percentile", () => {
    const hedge = makeHedgeDelay()
    assert.strictEqual(hedge.delayFor("eu"), defaultHedgeDelay.initialMs)
    for (let i = 1; i <= 19; i++) hedge.observe("eu", i * 10)
    assert.strictEqual(hedge.delayFor("eu"), defaultHedgeDelay.initialMs)
    hedge.observe("eu", 200)
    // 20 answers of 10..200 ms: the 95th percentile is the 19th, 190 ms.
    assert.strictEqual(hedge.delayFor("eu"), 190)
    assert.strictEqual(hedge.delayFor("na"), defaultHedgeDelay.initialMs, "each region learns its own")
  })

  it("stays within its bounds", () => {
    const fast = makeHedgeDelay()
    const slow = makeHedgeDelay()
    for (let i = 0; i < 50; i++) {
      fast.observe("eu", 1)
      slow.observe("eu", 60_000)
    }
    assert.strictEqual(fast.delayFor("eu"), defaultHedgeDelay.minMs)
    assert.strictEqual(slow.delayFor("eu"), defaultHedgeDelay.maxMs)
  })

  it("forgets the oldest answers: a region that became slow is seen as slow", () => {
    const hedge = makeHedgeDelay({ ...defaultHedgeDelay, window: 40 })
    for (let i = 0; i < 40; i++) hedge.observe("eu", 30)
    assert.strictEqual(hedge.delayFor("eu"), 30)
    for (let i = 0; i < 40; i++) hedge.observe("eu", 900)
    assert.strictEqual(hedge.delayFor("eu"), 900)
  })

  it.prop(
    "is the percentile of the last `window` answers, sorted afresh, whatever order they came in",
    [fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 120, size: "max" })],
    ([answers]) => {
      const settings = { ...defaultHedgeDelay, window: 12, minSamples: 5 }
      const hedge = makeHedgeDelay(settings)
      answers.forEach((ms, i) => {
        hedge.observe("eu", ms)
        const window = answers.slice(Math.max(0, i + 1 - settings.window), i + 1).sort((a, b) => a - b)
        const expected =
          window.length < settings.minSamples
            ? settings.initialMs
            : Math.min(
                settings.maxMs,
                Math.max(settings.minMs, window[Math.ceil(settings.percentile * window.length) - 1] ?? 0)
              )
        assert.strictEqual(hedge.delayFor("eu"), expected)
      })
    },
    { fastCheck: { numRuns: 200, seed: 16 } }
  )
})
