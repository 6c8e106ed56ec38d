/**
 * A hedge delay learned from recent latency: how long to wait for a region before racing the other one.
 * A fixed delay is either too short (doubling the load when a region is merely a little slow) or too long
 * (callers wait it out when a region hangs); the tail of what the region has recently taken is what a
 * healthy answer looks like, so a call still unanswered past it is likely stuck. As Envoy and gRPC hedging
 * advise, the delay is a high percentile of recent answers, bounded on both sides, with a fixed delay until
 * enough answers have been seen.
 */
import type { Target } from "./Trail.js"

export interface HedgeDelaySettings {
  /** Which percentile of recent answer times the delay follows (0.95: the slowest one in twenty). */
  readonly percentile: number
  /** Answers kept per region; the oldest goes first. */
  readonly window: number
  /** Answers needed before the percentile is trusted; until then `initialMs`. */
  readonly minSamples: number
  readonly initialMs: number
  readonly minMs: number
  readonly maxMs: number
}

export const defaultHedgeDelay: HedgeDelaySettings = {
  percentile: 0.95,
  window: 200,
  minSamples: 20,
  initialMs: 500,
  minMs: 25,
  maxMs: 2_000
}

/** Recent answer times per region, and the hedge delay they give. Synchronous: one per client layer. */
export const makeHedgeDelay = (settings: HedgeDelaySettings = defaultHedgeDelay) => {
  const samples = new Map<Target, { readonly times: Array<number>; next: number }>()

  /** Records how long a region took to answer (any answer: it proves the region responds). */
  const observe = (target: Target, ms: number): void => {
    let kept = samples.get(target)
    if (kept === undefined) {
      kept = { times: [], next: 0 }
      samples.set(target, kept)
    }
    if (kept.times.length < settings.window) kept.times.push(ms)
    else kept.times[kept.next] = ms
    kept.next = (kept.next + 1) % settings.window
  }

  /** How long to wait for `target` before racing the other region. */
  const delayFor = (target: Target): number => {
    const times = samples.get(target)?.times
    if (times === undefined || times.length < settings.minSamples) return settings.initialMs
    const sorted = [...times].sort((a, b) => a - b)
    const at = sorted[Math.min(sorted.length - 1, Math.ceil(settings.percentile * sorted.length) - 1)] ?? 0
    return Math.min(settings.maxMs, Math.max(settings.minMs, at))
  }

  return { observe, delayFor } as const
}

export type HedgeDelay = ReturnType<typeof makeHedgeDelay>
