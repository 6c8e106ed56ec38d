/**
 * The pieces of the outcome table (docs/design.md) that read an answer: how a status steers the call, the
 * backoff, and the reading of `Retry-After`. ./Decide.ts puts them together.
 */
import type { AttemptOutcome } from "./Trail.js"

/**
 * How an attempt's failure steers the call:
 * - `final`: no retry, no failover (400, 401, 403, 404 in failover mode, 405, 410, 413, 422, 501, an invalid body);
 * - `connect`: nothing was sent; fail over to the other region at once;
 * - `transient`: timeout, reset, a truncated or unusable body; the next attempt goes to the other region;
 * - `retryable`: 408, 429, 5xx and codes saying the same; back off, fail over after two in a row in one region;
 * - `not-found`: final from the first-choice region (the other is asked under `auto`); from a region
 *   reached by failing over, not proof of absence.
 */
export type FailureKind = "final" | "connect" | "transient" | "retryable" | "not-found"

export interface Classification {
  readonly outcome: AttemptOutcome
  readonly kind: FailureKind
}

/**
 * The upstream's tRPC adapter answers 500 for codes it cannot map, so a known `code` is more precise
 * than the status and wins over it.
 */
const byCode: Readonly<Record<string, Classification>> = {
  BAD_REQUEST: { outcome: "bad-request", kind: "final" },
  UNAUTHORIZED: { outcome: "unauthorized", kind: "final" },
  FORBIDDEN: { outcome: "forbidden", kind: "final" },
  NOT_FOUND: { outcome: "not-found", kind: "not-found" },
  TIMEOUT: { outcome: "server-error", kind: "retryable" },
  CONFLICT: { outcome: "bad-request", kind: "final" },
  PRECONDITION_FAILED: { outcome: "bad-request", kind: "final" },
  PAYLOAD_TOO_LARGE: { outcome: "bad-request", kind: "final" },
  METHOD_NOT_SUPPORTED: { outcome: "bad-request", kind: "final" },
  TOO_MANY_REQUESTS: { outcome: "rate-limited", kind: "retryable" },
  INTERNAL_SERVER_ERROR: { outcome: "server-error", kind: "retryable" }
}

const retryableStatuses = new Set([408, 429, 500, 502, 503, 504, 529])

/** Classifies an error status (not 2xx), with the body's `code` when it sent one. */
export const classifyStatus = (status: number, code: string | undefined): Classification => {
  const fromCode = code === undefined ? undefined : byCode[code]
  if (fromCode !== undefined) return fromCode
  if (status === 429) return { outcome: "rate-limited", kind: "retryable" }
  if (retryableStatuses.has(status)) return { outcome: "server-error", kind: "retryable" }
  if (status === 401) return { outcome: "unauthorized", kind: "final" }
  if (status === 403) return { outcome: "forbidden", kind: "final" }
  if (status === 404) return { outcome: "not-found", kind: "not-found" }
  if (status >= 400 && status < 500) return { outcome: "bad-request", kind: "final" }
  // Other 5xx (520-524 from a CDN in front of the API, say) are the server failing; 501 and 505 will not change.
  if (status >= 500 && status !== 501 && status !== 505) return { outcome: "server-error", kind: "retryable" }
  return { outcome: "server-error", kind: "final" }
}

/**
 * Backoff before retry number `retry` (0 for the first): min(base x 2^retry, max), with "equal jitter":
 * a random point in the upper half, so concurrent callers spread out yet each still waits.
 * `random` is in [0, 1).
 */
export const backoffMs = (retry: number, baseMs: number, maxMs: number, random: number): number => {
  const ceiling = Math.min(baseMs * 2 ** retry, maxMs)
  return ceiling / 2 + (ceiling / 2) * random
}

const finite = (ms: number): number => Math.min(ms, Number.MAX_SAFE_INTEGER)

/**
 * The server's wait hint in milliseconds: `retry-after-ms` (milliseconds), else `retry-after` as seconds
 * or as an HTTP date (relative to `nowMs`). Unreadable or negative values give no hint; a number too large
 * for a double (which would read as `Infinity`) is kept as the largest safe integer: still a hint far past
 * any cap, and one that survives JSON.
 */
export const retryAfterMs = (
  headers: Readonly<Record<string, string | undefined>>,
  nowMs: number
): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return finite(Number(ms))
  const after = headers["retry-after"]
  if (after === undefined) return undefined
  if (/^\s*\d+(\.\d+)?\s*$/.test(after)) return finite(Number(after) * 1000)
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs)
}

/** Delta seconds, or (above this) a Unix time in seconds, as some `x-ratelimit-reset` headers send. */
const unixSecondsFrom = 1e9

const seconds = (value: string | undefined): number | undefined =>
  value !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : undefined

/** When a quota said `remaining` (0: spent) and `reset` (seconds from now, or a Unix time) frees up. */
const spentUntil = (remaining: number | undefined, reset: number | undefined, nowMs: number) =>
  remaining === 0 && reset !== undefined
    ? reset >= unixSecondsFrom
      ? reset * 1000
      : nowMs + reset * 1000
    : undefined

/**
 * When rate-limit headers say the quota is spent (remaining 0), the time it resets: from
 * `ratelimit-remaining`/`ratelimit-reset` (IETF draft, delta seconds), the draft's structured
 * `ratelimit: "policy";r=0;t=N`, or `x-ratelimit-remaining`/`x-ratelimit-reset` (delta or Unix seconds).
 * Undefined when they are absent, unreadable, or quota remains: a remaining count above 0 is not acted on,
 * since other clients may share it and the 429s say more.
 */
export const quotaResetAt = (
  headers: Readonly<Record<string, string | undefined>>,
  nowMs: number
): number | undefined => {
  const structured = headers.ratelimit
  // The first family of headers that says the quota is spent wins; most answers carry none of them.
  return (
    spentUntil(seconds(headers["ratelimit-remaining"]), seconds(headers["ratelimit-reset"]), nowMs) ??
    (structured === undefined
      ? undefined
      : spentUntil(
          seconds(structured.match(/;\s*r=(\d+)/)?.[1]),
          seconds(structured.match(/;\s*t=(\d+)/)?.[1]),
          nowMs
        )) ??
    spentUntil(seconds(headers["x-ratelimit-remaining"]), seconds(headers["x-ratelimit-reset"]), nowMs)
  )
}
