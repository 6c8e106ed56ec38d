/**
 * The time limit of the attempt in progress, offered to the transport through a FiberRef, as the platform
 * passes transport options (`FetchHttpClient.RequestInit`, say): every `HttpClient` combinator runs in the
 * same fiber, so a wrapped transport still sees it.
 *
 * A transport that enforces the limit itself (./UndiciTransport.ts: one `setTimeout` that aborts the
 * request or its body) marks it `honoured` and fails a late exchange with `AttemptLimitExceeded`. The
 * resilient layer then needs no timer fiber for the attempt, which was the largest single cost of a
 * call (bench/client-throughput.bench.ts). Any other transport ignores it, and the layer times the attempt
 * with ./AttemptTimer.ts on Effect's Clock, as before. Which one a layer uses is learned from its first
 * attempts (./ResilientHttpClient.ts).
 *
 * A hedged attempt also offers its hedge delay (`slowAfterMs`): a transport that reads the whole body may
 * then hand the exchange over unanswered at that delay (`SlowExchange`, still running, with its late
 * outcome and a way to abandon it), so that the layer races the other region only when it must.
 */
import type { HttpClientError, HttpClientResponse } from "@effect/platform"
import { Cause, Effect, type Either, type Fiber, FiberRef } from "effect"

export interface AttemptLimit {
  /** Milliseconds from the start of the exchange to the end of its body. */
  readonly ms: number
  /**
   * The attempt reads the whole body as soon as the head arrives. A transport may then read it before it
   * answers, and answer once with the body in hand: one asynchronous step per attempt instead of two.
   */
  readonly readsWholeBody: boolean
  /**
   * A hedged attempt's delay: with no answer after this many milliseconds, a transport that reads the
   * whole body may hand the exchange over unanswered (`SlowExchange`) and keep it running, so that the
   * other region can be asked beside it without a fiber per call waiting for the delay.
   */
  readonly slowAfterMs?: number | undefined
  /** Set by a transport that enforces the limit itself. */
  honoured: boolean
}

/** What a handed-over exchange came to: the response (its body read) or why it failed. */
export type LateOutcome = Either.Either<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>

/**
 * An exchange handed over unanswered after its attempt's `slowAfterMs`: still running under the
 * attempt's limit, its outcome comes through `late`. The transport fails the exchange's effect with a
 * `RequestError` caused by this, which the resilient layer takes as the hand-over it asked for. A
 * combinator placed between the layer and the transport that retries or recovers transport errors would
 * act on it instead: a retry sends the request to the same region again each time the delay passes, and
 * the hedge races only once the retries are spent.
 */
export class SlowExchange extends Error {
  override readonly name = "SlowExchange"
  constructor(
    readonly late: Promise<LateOutcome>,
    /** Gives up on the exchange: it is aborted, and `late` settles with the abort. */
    readonly abandon: () => void
  ) {
    super("No answer within the hedge delay; the exchange goes on")
  }
}

/**
 * Where a fiber's attempts offer their limits: one mutable slot per fiber, made by the fiber's first
 * attempt and then reused. Setting a FiberRef copies the fiber's whole table of FiberRefs (a `Map` of
 * some thirty entries), and `Effect.locally` does it twice per attempt; that was a sixth of the client's
 * own cost per call (bench/client-throughput.bench.ts). A slot names its fiber, so a fiber forked while
 * it is set, which inherits it, never reads another fiber's limit: it makes a slot of its own.
 */
interface LimitSlot {
  readonly owner: number
  limit: AttemptLimit | undefined
}

const currentSlot: FiberRef.FiberRef<LimitSlot | undefined> = FiberRef.unsafeMake<LimitSlot | undefined>(
  undefined,
  // A joined child's slot is the child's; the parent keeps its own.
  { join: (parent) => parent }
)

/** The limit the attempt running in `fiber` offers its transport, if an attempt is running there. */
export const offeredIn = (fiber: Fiber.RuntimeFiber<unknown, unknown>): AttemptLimit | undefined => {
  const slot = fiber.getFiberRef(currentSlot)
  return slot !== undefined && slot.owner === fiber.id().id ? slot.limit : undefined
}

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
 * Runs `self` (an attempt's exchange) with `limit` offered to the transport, and `onInterrupt` if it is
 * interrupted, in one uninterruptible region: an attempt's cost is mostly its count of Effect operations
 * (bench/client-throughput.bench.ts). The limit is offered in the fiber that runs `self` only.
 */
export const offer = <A, E>(
  limit: AttemptLimit,
  self: Effect.Effect<A, E>,
  onInterrupt?: () => void
): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.withFiberRuntime<A, E>((fiber) => {
      const owner = fiber.id().id
      const current = fiber.getFiberRef(currentSlot)
      const slot = current !== undefined && current.owner === owner ? current : { owner, limit: undefined }
      const previous = slot.limit
      slot.limit = limit
      const run = Effect.matchCauseEffect(restore(self), {
        onFailure: (cause) => {
          slot.limit = previous
          if (onInterrupt !== undefined && Cause.isInterruptedOnly(cause)) onInterrupt()
          return Effect.failCause(cause)
        },
        onSuccess: (value) => {
          slot.limit = previous
          return Effect.succeed(value)
        }
      })
      return slot === current ? run : Effect.zipRight(FiberRef.set(currentSlot, slot), run)
    })
  )
