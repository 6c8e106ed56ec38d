/**
 * The outcome table row by row, against the pure decision function: no transport, no clock, no fibers.
 * The driver's timing is tested with TestClock in OutcomeTable.test.ts and ResilientHttpClient.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Decide } from "../src/index.js"
import type { FailureKind } from "../src/RetryPolicy.js"
import type { AttemptOutcome, Target } from "../src/Trail.js"

const plan = (overrides: Partial<Decide.CallPlan> = {}): Decide.CallPlan => ({
  policy: "failover",
  preferred: "eu",
  allowed: ["eu", "na"],
  maxAttempts: 4,
  deadlineAt: 30_000,
  retryAfterCapMs: 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 8_000,
  ...overrides
})

const healthy: Decide.Now = { now: 0, random: 0, isAvailable: () => true }
const euOpen: Decide.Now = { ...healthy, isAvailable: (target) => target !== "eu" }

/** The state after attempts to `targets`, in order. */
const triedIn = (...targets: ReadonlyArray<Target>) => targets.reduce(Decide.started, Decide.initialState)

const failure = (
  target: Target,
  outcome: AttemptOutcome,
  kind: FailureKind,
  retryAfterMs?: number
): Decide.Failure => ({ target, outcome, kind, retryAfterMs })

const next = (decision: Decide.Decision) =>
  decision.step._tag === "Stop"
    ? `stop ${decision.step.error}`
    : `${decision.step.target} after ${decision.step.waitMs} ms${decision.step.skipped ? ` (skip ${decision.step.skipped})` : ""}`

describe("Decide.start", () => {
  it("starts at the preferred region, or at the other one while the preferred one's circuit is open", () => {
    assert.deepStrictEqual(Decide.start(plan(), healthy), { _tag: "Attempt", target: "eu", waitMs: 0 })
    assert.deepStrictEqual(Decide.start(plan(), euOpen), {
      _tag: "Attempt",
      target: "na",
      waitMs: 0,
      skipped: "eu"
    })
    const bothOpen = { ...healthy, isAvailable: () => false }
    assert.strictEqual(Decide.start(plan(), bothOpen).target, "eu")
    assert.strictEqual(Decide.start(plan({ policy: "pinned", allowed: ["eu"] }), euOpen).target, "eu")
  })
})

describe("Decide.decide, row by row", () => {
  const rows: ReadonlyArray<
    readonly [string, Decide.CallPlan, Decide.CallState, Decide.Failure, Decide.Now, string]
  > = [
    [
      "connect failure: the other region at once",
      plan(),
      triedIn("eu"),
      failure("eu", "connect-failed", "connect"),
      healthy,
      "na after 0 ms"
    ],
    [
      "timeout: the other region at once",
      plan(),
      triedIn("eu"),
      failure("eu", "timeout", "transient"),
      healthy,
      "na after 0 ms"
    ],
    [
      "malformed body: the other region at once",
      plan(),
      triedIn("eu"),
      failure("eu", "invalid-response", "transient"),
      healthy,
      "na after 0 ms"
    ],
    [
      "first 503: the same region after a backoff in [250, 500] ms",
      plan(),
      triedIn("eu"),
      failure("eu", "server-error", "retryable"),
      healthy,
      "eu after 250 ms"
    ],
    [
      "second 503 in a row: the other region at once",
      plan(),
      { ...triedIn("eu", "eu"), streak: 1, streakAt: "eu", retries: 1 },
      failure("eu", "server-error", "retryable"),
      healthy,
      "na after 0 ms"
    ],
    [
      "429 with a hint: max(backoff, hint) in the same region",
      plan(),
      triedIn("eu"),
      failure("eu", "rate-limited", "retryable", 2_000),
      healthy,
      "eu after 2000 ms"
    ],
    [
      "429 with a hint past the cap: the healthy other region at once",
      plan(),
      triedIn("eu"),
      failure("eu", "rate-limited", "retryable", 120_000),
      healthy,
      "na after 0 ms"
    ],
    [
      "429 with a hint past the cap, other region open: stop with the 429",
      plan(),
      triedIn("eu"),
      failure("eu", "rate-limited", "retryable", 120_000),
      { ...healthy, isAvailable: (target) => target !== "na" },
      "stop last"
    ],
    [
      "429 with a hint past the deadline, pinned: stop",
      plan({ policy: "pinned", allowed: ["eu"] }),
      triedIn("eu"),
      failure("eu", "rate-limited", "retryable", 40_000),
      healthy,
      "stop last"
    ],
    [
      "final (401): stop",
      plan(),
      triedIn("eu"),
      failure("eu", "unauthorized", "final"),
      healthy,
      "stop last"
    ],
    [
      "schema mismatch: stop",
      plan(),
      triedIn("eu"),
      failure("eu", "invalid-response", "final"),
      healthy,
      "stop last"
    ],
    [
      "404 from the first choice: NotFound",
      plan(),
      triedIn("eu"),
      failure("eu", "not-found", "not-found"),
      healthy,
      "stop last"
    ],
    [
      "404 from the region failed over to: all regions failed",
      plan(),
      triedIn("eu", "na"),
      failure("na", "not-found", "not-found"),
      healthy,
      "stop all-regions"
    ],
    [
      "auto, 404 from the first choice: the other region at once",
      plan({ policy: "auto" }),
      triedIn("eu"),
      failure("eu", "not-found", "not-found"),
      healthy,
      "na after 0 ms"
    ],
    [
      "auto, 404 from both: NotFound",
      plan({ policy: "auto" }),
      { ...triedIn("eu", "na"), notFoundIn: ["eu"] },
      failure("na", "not-found", "not-found"),
      healthy,
      "stop last"
    ],
    [
      "auto, 404 from the other after the first failed: all regions failed",
      plan({ policy: "auto" }),
      triedIn("eu", "na"),
      failure("na", "not-found", "not-found"),
      healthy,
      "stop all-regions"
    ],
    [
      "attempts spent across two regions: all regions failed",
      plan(),
      triedIn("eu", "na", "eu", "na"),
      failure("na", "timeout", "transient"),
      healthy,
      "stop all-regions"
    ],
    [
      "attempts spent in one region: its own error",
      plan({ policy: "pinned", allowed: ["eu"] }),
      triedIn("eu", "eu", "eu", "eu"),
      failure("eu", "server-error", "retryable"),
      healthy,
      "stop last"
    ],
    [
      "attempts spent, every answer invalid: the invalid response",
      plan(),
      triedIn("eu", "na", "eu", "na"),
      failure("na", "invalid-response", "transient"),
      healthy,
      "stop last"
    ],
    [
      "429s spend no attempts: a fifth attempt after three 429s and a 503, pinned",
      plan({ policy: "pinned", allowed: ["eu"] }),
      { ...triedIn("eu", "eu", "eu", "eu"), throttled: 3, retries: 3 },
      failure("eu", "rate-limited", "retryable", 1_000),
      healthy,
      "eu after 2000 ms"
    ],
    [
      "429s spend no attempts, other failures do: four 503s after two 429s end the call",
      plan({ policy: "pinned", allowed: ["eu"] }),
      { ...triedIn("eu", "eu", "eu", "eu", "eu", "eu"), throttled: 2, retries: 5 },
      failure("eu", "server-error", "retryable"),
      healthy,
      "stop last"
    ],
    [
      "a budget of one attempt retries nothing, not even a 429",
      plan({ maxAttempts: 1 }),
      triedIn("eu"),
      failure("eu", "rate-limited", "retryable", 1_000),
      healthy,
      "stop last"
    ],
    [
      "429s spend no attempts, but the deadline still bounds their waits",
      plan({ policy: "pinned", allowed: ["eu"], deadlineAt: 10_000 }),
      { ...triedIn("eu", "eu", "eu", "eu"), throttled: 3, retries: 4 },
      failure("eu", "rate-limited", "retryable"),
      { ...healthy, now: 9_000 },
      "stop last"
    ],
    [
      "going back to a tried region waits its backoff",
      plan(),
      triedIn("eu", "na"),
      failure("na", "timeout", "transient"),
      healthy,
      "eu after 250 ms"
    ],
    [
      "a backoff that would cross the deadline is not taken",
      plan({ deadlineAt: 100 }),
      triedIn("eu"),
      failure("eu", "server-error", "retryable"),
      healthy,
      "stop last"
    ],
    [
      "the wanted region's circuit is open: the other one, the skip noted",
      plan(),
      { ...triedIn("na", "na"), streak: 1, streakAt: "na", retries: 1 },
      failure("na", "server-error", "retryable"),
      euOpen,
      "na after 500 ms (skip eu)"
    ]
  ]
  for (const [name, callPlan, state, last, world, expected] of rows) {
    it(name, () => {
      assert.strictEqual(next(Decide.decide(callPlan, state, last, world)), expected)
    })
  }

  it("out of time (a rate permit past the deadline): one region's error, or every region's", () => {
    const failed = (...targets: ReadonlyArray<Target>) => ({ ...triedIn(...targets), onlyInvalid: false })
    const rows: ReadonlyArray<readonly [Decide.CallState, string]> = [
      [failed("eu"), "stop last"],
      [failed("eu", "eu"), "stop last"],
      [failed("eu", "na"), "stop all-regions"],
      [triedIn("eu", "na"), "stop last"]
    ]
    for (const [state, expected] of rows) assert.strictEqual(next(Decide.exhausted(state)), expected)
  })

  it("a retryable failure after a failover starts a new streak in the new region", () => {
    const { state } = Decide.decide(
      plan(),
      { ...triedIn("eu", "eu", "na"), streak: 2, streakAt: "eu" },
      failure("na", "server-error", "retryable"),
      healthy
    )
    assert.strictEqual(state.streak, 1)
    assert.strictEqual(state.streakAt, "na")
  })

  it("the backoff's exponent grows with each wait taken", () => {
    const first = Decide.decide(plan(), triedIn("eu"), failure("eu", "server-error", "retryable"), {
      ...healthy,
      random: 0.999
    })
    assert.strictEqual(first.state.retries, 1)
    assert.isTrue(first.step._tag === "Attempt" && first.step.waitMs > 499 && first.step.waitMs < 500)
    const second = Decide.decide(
      plan({ maxAttempts: 10 }),
      { ...first.state, ...triedIn("eu", "eu"), retries: 1, streak: 0, streakAt: undefined },
      failure("eu", "server-error", "retryable"),
      { ...healthy, random: 0 }
    )
    assert.isTrue(second.step._tag === "Attempt" && second.step.waitMs === 500)
  })
})
