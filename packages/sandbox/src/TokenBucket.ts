/**
 * A token bucket, as pure functions of the time, so that the region state can keep it in a `Ref` and the
 * time comes from Effect's `Clock` (a test moves it with `TestClock`).
 *
 * The `Retry-After` it computes is a promise the bucket keeps: it is the time until one whole token is
 * back, rounded up, so a client that waits that long is served.
 */
import type { RateLimit } from "./FaultSpec.js"

export interface TokenBucket {
  readonly capacity: number
  /** Tokens per millisecond. */
  readonly refillPerMs: number
  readonly tokens: number
  readonly updatedAt: number
}

export type Decision =
  | { readonly _tag: "Allowed"; readonly remaining: number }
  | { readonly _tag: "Limited"; readonly retryAfterMs: number }

/** A full bucket: a burst of `capacity` requests passes at once. */
export const make = (rate: RateLimit, now: number): TokenBucket => ({
  capacity: rate.burst,
  refillPerMs: rate.tokens / rate.periodMs,
  tokens: rate.burst,
  updatedAt: now
})

const refill = (bucket: TokenBucket, now: number): TokenBucket => {
  const elapsed = Math.max(0, now - bucket.updatedAt)
  return {
    ...bucket,
    tokens: Math.min(bucket.capacity, bucket.tokens + elapsed * bucket.refillPerMs),
    updatedAt: Math.max(now, bucket.updatedAt)
  }
}

// Floating-point refill can land a hair under 1 token at exactly the promised time; this tolerance keeps
// the promise of `Retry-After` without ever granting a visibly early token.
const epsilon = 1e-9

export const take = (bucket: TokenBucket, now: number): readonly [Decision, TokenBucket] => {
  const current = refill(bucket, now)
  if (current.tokens + epsilon >= 1) {
    const next = { ...current, tokens: Math.max(0, current.tokens - 1) }
    return [{ _tag: "Allowed", remaining: Math.floor(next.tokens + epsilon) }, next]
  }
  const retryAfterMs = Math.ceil((1 - current.tokens) / current.refillPerMs)
  return [{ _tag: "Limited", retryAfterMs }, current]
}

/** `Retry-After` in whole seconds, rounded up and at least 1, as RFC 9110 writes it. */
export const retryAfterSeconds = (retryAfterMs: number): number => Math.max(1, Math.ceil(retryAfterMs / 1000))
