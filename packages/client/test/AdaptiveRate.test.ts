/**
 * The rate algorithm as pure functions: events in, state out, no clock. The controller's waits are tested
 * with TestClock in RateController.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as AdaptiveRate from "../src/AdaptiveRate.js"

const { initial, record, sendAt, sent } = AdaptiveRate
const ok = (sentAt: number) => ({ throttled: false, sentAt })
const refused = (sentAt: number) => ({ throttled: true, sentAt })

/** The state after answers at the given times, each sent 1 ms before it was answered. */
const answered = (answers: ReadonlyArray<readonly [at: number, throttled: boolean]>, from = initial) =>
  answers.reduce((state, [at, throttled]) => record(state, { throttled, sentAt: at - 1 }, at), from)

/** Accepted answers every `everyMs` from `from` to `to` (exclusive). */
const steady = (from: number, to: number, everyMs: number) =>
  Array.from({ length: Math.ceil((to - from) / everyMs) }, (_, i) => [from + i * everyMs, false] as const)

describe("AdaptiveRate.sendAt", () => {
  const rows: ReadonlyArray<readonly [string, AdaptiveRate.RateState, number | undefined, number]> = [
    ["unthrottled, no ceiling: now", sent(initial, 990), undefined, 1000],
    ["a ceiling paces from the last send: 10/s is 100 ms apart", sent(initial, 990), 10, 1090],
    ["the first request under a ceiling goes at once", initial, 10, 1000],
    ["a rate of 4/s after a 429 is 250 ms apart", { ...sent(initial, 900), rate: 4 }, undefined, 1150],
    ["the ceiling wins over a faster adaptive rate", { ...sent(initial, 990), rate: 50 }, 10, 1090],
    ["a late request is not held back", { ...sent(initial, 0), rate: 4 }, undefined, 1000],
    ["a spent quota holds every request until it resets", { ...initial, pausedUntil: 4000 }, undefined, 4000]
  ]
  for (const [name, state, maxRate, expected] of rows) {
    it(name, () => assert.strictEqual(sendAt(state, maxRate, 1000), expected))
  }
})

describe("AdaptiveRate.record", () => {
  it("clean answers leave an unthrottled region unthrottled", () => {
    const state = answered(steady(0, 5000, 10))
    assert.strictEqual(state.rate, undefined)
    assert.strictEqual(state.accepted, 500)
    assert.closeTo(state.measured ?? 0, 100, 1)
  })

  it("a first 429 with nothing measured yet: 0.7 x what was sent so far, then slow start", () => {
    const burst = Array.from({ length: 20 }, (_, i) => i).reduce(sent, initial)
    const state = answered([...steady(0, 10, 1), [21, true]], burst)
    assert.strictEqual(state.refusedRate, 20)
    assert.strictEqual(state.rate, 14)
    assert.isTrue(state.probing)
    // Slow start doubles every half second of clean answers.
    assert.closeTo(answered([[521, false]], state).rate ?? 0, 28, 0.01)
    assert.closeTo(answered([[1021, false]], state).rate ?? 0, 56, 0.01)
  })

  it("a 429 ending slow start: the refused rate is at least half the current one", () => {
    const probing = { ...answered([...steady(0, 1000, 20)]), rate: 200, probing: true, decreasedAt: 0 }
    const state = record(probing, refused(999), 1000)
    assert.isBelow(probing.measured ?? 0, 100)
    assert.strictEqual(state.refusedRate, 100)
    assert.isFalse(state.probing)
  })

  it("a 429 after a measured rate: multiplicative decrease (0.7) from min(rate, measured), then CUBIC", () => {
    const busy = answered([...steady(0, 3000, 10), [3000, true]])
    assert.isFalse(busy.probing)
    assert.closeTo(busy.refusedRate, 100, 1)
    assert.closeTo(busy.rate ?? 0, 70, 1)
    // Answers keep coming at 100/s, so the measure (and its cap) stays where it was.
    const at = (ms: number) => answered(steady(3010, 3000 + ms + 1, 10), busy).rate ?? 0
    // Concave back to the refused rate in 2 s, flat around it, then convex past it: the probe.
    assert.isAbove(at(500), 85)
    assert.closeTo(at(2000), busy.refusedRate, 0.01)
    assert.isBelow(at(2500), busy.refusedRate * 1.01)
    assert.closeTo(at(4000), busy.refusedRate * 1.3, 0.5)
  })

  it("429s to requests sent before the decrease do not decrease again (one per round)", () => {
    const first = answered([...steady(0, 3000, 10), [3000, true]])
    const burst = [3001, 3002, 3003].reduce((state, at) => record(state, refused(2990), at), first)
    assert.strictEqual(burst.rate, first.rate)
    assert.strictEqual(burst.throttled, 4)
    // A request sent after the decrease and refused is news: the rate goes down again.
    const again = record(burst, refused(3100), 3110)
    assert.closeTo(again.rate ?? 0, (first.rate ?? 0) * 0.7, 0.01)
  })

  it("never below 0.5/s, however many rounds of 429s", () => {
    let state = answered(steady(0, 1000, 100))
    for (let round = 0; round < 30; round++)
      state = record(state, refused(2000 + round * 10), 2001 + round * 10)
    assert.strictEqual(state.rate, AdaptiveRate.minRate)
  })

  it("the climb is capped at twice what the upstream was seen to accept", () => {
    // 10 accepted per second for a while, then a 429, then 30 s of clean answers at that pace.
    const slow = answered([...steady(0, 3000, 100), [3000, true], ...steady(3100, 33_000, 100)])
    assert.closeTo(slow.rate ?? 0, 2 * (slow.measured ?? 0), 0.5)
    assert.isBelow(slow.rate ?? 0, 25)
  })

  it("a pause does not count as a slow upstream", () => {
    const busy = answered([...steady(0, 3000, 10), [3000, true]])
    const resumed = answered(
      [
        [60_000, false],
        [60_010, false]
      ],
      busy
    )
    assert.strictEqual(resumed.measured, busy.measured)
  })

  it("rate-limit headers saying the quota is spent hold sends until it resets", () => {
    const state = record(initial, { ...ok(0), spentUntil: 5000 }, 10)
    assert.strictEqual(state.pausedUntil, 5000)
    assert.strictEqual(sendAt(state, undefined, 20), 5000)
    assert.strictEqual(record(state, { ...ok(0), spentUntil: 3000 }, 20).pausedUntil, 5000)
  })

  it("counts sends, 429s and accepted answers; the state survives JSON (a fleet may share it)", () => {
    const state = answered(
      [
        [5, false],
        [6, true],
        [7, false]
      ],
      sent(sent(sent(initial, 1), 2), 3)
    )
    assert.deepStrictEqual([state.sent, state.throttled, state.accepted], [3, 1, 2])
    const copy: AdaptiveRate.RateState = { ...initial, ...JSON.parse(JSON.stringify(state)) }
    assert.deepStrictEqual(copy, state)
  })
})
