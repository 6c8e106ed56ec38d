/**
 * The time limit of the attempt in progress, offered to the transport in the fiber's context, as the
 * platform passes transport options (`FetchHttpClient.RequestInit`, say): every `HttpClient` combinator
 * runs in the same fiber, so a wrapped transport still sees it.
 *
 * A transport that enforces the limit itself (./UndiciTransport.ts: one `setTimeout` that aborts the
 * request or its body) marks it `honoured` and fails a late exchange with `AttemptLimitExceeded`. The
 * resilient layer then needs no timer fiber for the attempt, which was the largest single cost of a
 * call (bench/client-throughput.bench.ts). Any other transport ignores it, and the layer times the attempt
 * with ./AttemptTimer.ts on Effect's Clock, as before. Which one a layer uses is learned from its first
 * attempts (./ResilientHttpClient.ts).
 */
import { Cause, Effect, FiberRef } from "effect"

export interface AttemptLimit {
  /** Milliseconds from the start of the exchange to the end of its body. */
  readonly ms: number
  /** Set by a transport that enforces the limit itself. */
  honoured: boolean
}

export const currentAttemptLimit: FiberRef.FiberRef<AttemptLimit | undefined> = FiberRef.unsafeMake<
  AttemptLimit | undefined
>(undefined)

/** Why a transport aborted an exchange: its attempt's time limit struck. */
export class AttemptLimitExceeded extends Error {
  override readonly name = "AttemptLimitExceeded"
  constructor(readonly ms: number) {
    super(`The attempt took longer than ${ms} ms`)
  }
}

/** Whether a failure (or anything in its cause chain) is a transport's report that the limit struck. */
export const isExceeded = (cause: unknown, depth = 0): boolean => {
  if (cause instanceof AttemptLimitExceeded) return true
  if (typeof cause !== "object" || cause === null || depth > 5 || !("cause" in cause)) return false
  return isExceeded(cause.cause, depth + 1)
}

/**
 * Runs `self` (an attempt) with `limit` offered to the transport, and `onInterrupt` if it is interrupted:
 * one uninterruptible region for both, where `Effect.locally` and `Effect.onInterrupt` took two. An
 * attempt's cost is mostly its count of Effect operations (bench/client-throughput.bench.ts).
 */
export const offer = <A>(
  limit: AttemptLimit,
  self: Effect.Effect<A>,
  onInterrupt: () => void
): Effect.Effect<A> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(FiberRef.getAndSet(currentAttemptLimit, limit), (previous) =>
      Effect.matchCauseEffect(restore(self), {
        onFailure: (cause) =>
          Effect.zipRight(
            FiberRef.set(currentAttemptLimit, previous),
            Effect.suspend(() => {
              if (Cause.isInterruptedOnly(cause)) onInterrupt()
              return Effect.failCause(cause)
            })
          ),
        onSuccess: (value) => Effect.as(FiberRef.set(currentAttemptLimit, previous), value)
      })
    )
  )
