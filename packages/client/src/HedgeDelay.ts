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

/** The index at which `value` belongs in ascending `sorted` (the first element not below it). */
const lowerBound = (sorted: ReadonlyArray<number>, value: number): number => {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((sorted[middle] ?? 0) < value) low = middle + 1
    else high = middle
  }
  return low
}

/**
 * Recent answer times per region, and the hedge delay they give. Synchronous: one per client layer.
 * The window is also kept in sorted order, updated as each answer comes (a search and a move of at most
 * `window` numbers), because the delay is asked for on every call: sorting a copy of the window each time
 * cost a gateway about a twentieth of a cache miss's CPU (bench/README.md, gateway misses).
 */
export const makeHedgeDelay = (settings: HedgeDelaySettings = defaultHedgeDelay) => {
  const samples = new Map<
    Target,
    { readonly times: Array<number>; readonly sorted: Array<number>; next: number }
  >()

  /** Records how long a region took to answer (any answer: it proves the region responds). */
  const observe = (target: Target, ms: number): void => {
    let kept = samples.get(target)
    if (kept === undefined) {
      kept = { times: [], sorted: [], next: 0 }
      samples.set(target, kept)
    }
    if (kept.times.length < settings.window) kept.times.push(ms)
    else {
      const oldest = kept.times[kept.next] ?? 0
      kept.sorted.splice(lowerBound(kept.sorted, oldest), 1)
      kept.times[kept.next] = ms
    }
    kept.sorted.splice(lowerBound(kept.sorted, ms), 0, ms)
    kept.next = (kept.next + 1) % settings.window
  }

  /** How long to wait for `target` before racing the other region. */
  const delayFor = (target: Target): number => {
    const sorted = samples.get(target)?.sorted
    if (sorted === undefined || sorted.length < settings.minSamples) return settings.initialMs
    const at = sorted[Math.min(sorted.length - 1, Math.ceil(settings.percentile * sorted.length) - 1)] ?? 0
    return Math.min(settings.maxMs, Math.max(settings.minMs, at))
  }

  return { observe, delayFor } as const
}

export type HedgeDelay = ReturnType<typeof makeHedgeDelay>
