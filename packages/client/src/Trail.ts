/**
 * The attempt trail's vocabulary: where an attempt went and how it ended. It belongs to the client, not
 * to the contract: errors carry trails as open strings (`@convocore-effect/schema`'s `Attempt`), so a new
 * routing rule here never changes what a serialized error looks like.
 */
import type { Region } from "@convocore-effect/schema"

/** Where an attempt went: a region, or `custom` for a single configured base URL with no failover. */
export type Target = Region.Region | "custom"

/** How one attempt ended. */
export type AttemptOutcome =
  | "ok"
  | "unauthorized"
  | "forbidden"
  | "not-found"
  | "bad-request"
  | "rate-limited"
  | "server-error"
  | "connect-failed"
  | "send-failed"
  | "receive-failed"
  | "timeout"
  | "invalid-response"
  /** Not an attempt: the region was skipped because its circuit breaker is open. */
  | "circuit-open"
  /** The attempt was abandoned: a hedge's loser, or the call was interrupted. */
  | "interrupted"

/** One line of the trail; it is a valid `Attempt` of the contract, so errors carry it as it is. */
export interface Attempt {
  readonly region: Target
  readonly attempt: number
  readonly outcome: AttemptOutcome
  readonly status?: number
  readonly code?: string
  readonly ms: number
}
