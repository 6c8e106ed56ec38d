/**
 * What a region has answered, by outcome and by status, so a test can assert "EU saw 3 requests and
 * refused 2" instead of inferring it from timings.
 */
import { type Effect, Ref } from "effect"

/**
 * The outcome of one request: how the sandbox answered it. A fault outcome wins over the outcome the
 * request would have had (a drifted 200 counts as `drift`).
 */
export type Outcome =
  | "ok"
  | "unauthorized"
  | "forbidden"
  | "not-found"
  | "bad-request"
  | "route-not-found"
  | "method-not-allowed"
  | "refused"
  | "hang"
  | "rate-limited"
  | "status"
  | "malformed"
  | "truncated"
  | "content-type"
  | "drift"
  | "broken-primitive"

export interface Counters {
  /** Requests that reached the region (admin requests excluded). */
  readonly requests: number
  readonly byOutcome: Readonly<Partial<Record<Outcome, number>>>
  /** Keyed by the status as a string; requests never answered (hang, refused) have none. */
  readonly byStatus: Readonly<Record<string, number>>
}

export const empty: Counters = { requests: 0, byOutcome: {}, byStatus: {} }

export const make = Ref.make(empty)

export const record = (ref: Ref.Ref<Counters>, outcome: Outcome, status?: number): Effect.Effect<void> =>
  Ref.update(ref, (counters) => ({
    requests: counters.requests + 1,
    byOutcome: { ...counters.byOutcome, [outcome]: (counters.byOutcome[outcome] ?? 0) + 1 },
    byStatus:
      status === undefined
        ? counters.byStatus
        : { ...counters.byStatus, [String(status)]: (counters.byStatus[String(status)] ?? 0) + 1 }
  }))
