/**
 * Where a gateway fleet keeps its upstream budget: per upstream region, the next free send slot (a GCRA
 * "theoretical arrival time": one slot every 1/rate s, no burst), the requests sent, and the client's
 * adaptive rate state (`AdaptiveRate.RateState`, plain JSON) under a version for compare-and-set. Its
 * `pausedUntil` (the upstream said its quota is spent) also holds the schedule, so that every replica
 * waits from the first permit after it is written.
 * Every time in it is the store's own clock, so replicas whose clocks disagree still share one schedule.
 *
 * Two implementations with the same semantics: Redis (./RedisRateStore.ts, Lua scripts, `TIME`) and
 * `memory` below (one process; Effect's `Clock`, so unit tests drive it with `TestClock`).
 */
import type { AdaptiveRate } from "@convocore-effect/client"
import { Clock, Effect } from "effect"
import type { RedisUnavailable } from "./RedisConnection.js"

/** The fleet's adaptive rate state; its `sent` is the fleet's count of requests sent. */
export interface SharedRate {
  readonly state: AdaptiveRate.RateState
  /** Bumped by every write: an update computed from an older version is refused. */
  readonly version: number
}

export interface Reservation {
  /** Whether a slot was taken; not when it would have come `maxWaitMs` or more from now. */
  readonly granted: boolean
  /** How long until the slot: to wait for it, or, when none was taken, how far off it would have been. */
  readonly waitMs: number
  /** The store's clock when it answered, in milliseconds. */
  readonly now: number
  readonly shared: SharedRate
}

export interface ReserveOptions {
  /** 1000 / rate; 0 while unthrottled. */
  readonly intervalMs: number
  /** A slot that would come this far off or later is not taken. */
  readonly maxWaitMs: number
  /** Take a slot now whatever the schedule (a retry that already waited the upstream's `Retry-After`). */
  readonly force: boolean
}

export interface Update {
  readonly applied: boolean
  readonly now: number
  /** The state after the write, or the newer one that refused it. */
  readonly shared: SharedRate
}

export interface FleetRateStore {
  readonly reserve: (key: string, options: ReserveOptions) => Effect.Effect<Reservation, RedisUnavailable>
  /** Writes `next` if the stored version is still `expected`. */
  readonly update: (
    key: string,
    expected: number,
    next: AdaptiveRate.RateState
  ) => Effect.Effect<Update, RedisUnavailable>
  /** Says this replica is alive; answers how many replicas are (each counted for `replicaTtlMs`). */
  readonly heartbeat: (replica: string) => Effect.Effect<number, RedisUnavailable>
  readonly leave: (replica: string) => Effect.Effect<void, RedisUnavailable>
  /** True while the first connection is still being made: a failure then is no news to log. */
  readonly connecting: () => boolean
}

/** A replica not heard from for this long is no longer counted in the fleet. */
export const replicaTtlMs = 3_000
/** A region idle this long starts over, as a new client would (no stale backoff left behind). */
export const idleTtlMs = 60_000

/**
 * A slot missed by less than this is still given, at once: a replica whose timer or event loop ran late
 * must not lower the fleet's rate. An older one is gone, so an idle fleet banks no burst: at most this
 * much of the rate goes at once.
 */
export const lateMs = 100

/**
 * The slot a reservation at `now` would take (`at`, possibly just past: go at once) and the schedule
 * after it (`tat`), which stays as it was unless `granted`: not when the slot would come `maxWaitMs` or
 * more from now.
 */
export const schedule = (
  tat: number,
  notBefore: number,
  now: number,
  options: ReserveOptions
): { readonly granted: boolean; readonly at: number; readonly tat: number } => {
  if (options.force) return { granted: true, at: now, tat: Math.max(now, tat) + options.intervalMs }
  const at = Math.max(tat < now - lateMs ? now : tat, notBefore)
  if (at - now >= options.maxWaitMs) return { granted: false, at, tat }
  return { granted: true, at, tat: at + options.intervalMs }
}

interface Region {
  tat: number
  shared: SharedRate
  touchedAt: number
}

/** One process's store: what a unit test shares between controllers standing for replicas. */
export const memory = (initial: AdaptiveRate.RateState): FleetRateStore => {
  const regions = new Map<string, Region>()
  const replicas = new Map<string, number>()
  const regionAt = (key: string, now: number): Region => {
    const found = regions.get(key)
    if (found !== undefined && now - found.touchedAt < idleTtlMs) return found
    const fresh = { tat: 0, shared: { state: initial, version: 0 }, touchedAt: now }
    regions.set(key, fresh)
    return fresh
  }
  return {
    reserve: (key, options) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const region = regionAt(key, now)
        const slot = schedule(region.tat, region.shared.state.pausedUntil, now, options)
        const waitMs = Math.max(0, slot.at - now)
        if (!slot.granted) return { granted: false, waitMs, now, shared: region.shared }
        region.tat = slot.tat
        region.touchedAt = now
        const state = { ...region.shared.state, sent: region.shared.state.sent + 1 }
        region.shared = { ...region.shared, state }
        return { granted: true, waitMs, now, shared: region.shared }
      }),
    update: (key, expected, next) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const region = regionAt(key, now)
        if (region.shared.version !== expected) return { applied: false, now, shared: region.shared }
        region.shared = {
          state: { ...next, sent: region.shared.state.sent },
          version: region.shared.version + 1
        }
        region.touchedAt = now
        return { applied: true, now, shared: region.shared }
      }),
    heartbeat: (replica) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        replicas.set(replica, now)
        for (const [id, at] of replicas) if (now - at > replicaTtlMs) replicas.delete(id)
        return replicas.size
      }),
    leave: (replica) => Effect.sync(() => void replicas.delete(replica)),
    connecting: () => false
  }
}
