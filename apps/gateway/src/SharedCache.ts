/**
 * The cache the replicas of a fleet share (L2, behind each replica's in-process L1 in ./ResponseCache.ts):
 * entries by key, a lock per key so that one replica at a time calls upstream for it, and events that every
 * replica hears (a call for a key ended; a key was purged).
 *
 * Two implementations: `SharedCache.memory` (one process; unit tests, several gateways in one test) and the
 * Redis one in ./RedisSharedCache.ts. Every operation may fail with `SharedCacheUnavailable`; callers then
 * carry on alone (L1 and upstream), so the shared cache is never a reason to fail a request.
 */
import { Clock, Context, Data, Effect, Layer, type Scope } from "effect"
import type { Entry } from "./ResponseCache.js"

export class SharedCacheUnavailable extends Data.TaggedError("SharedCacheUnavailable")<{
  readonly reason: string
}> {}

export type FleetEvent =
  /** The call for a key ended (stored or failed): its waiters look again. */
  | { readonly _tag: "Settled"; readonly key: string }
  /** The key's entry was purged: every replica drops its L1 copy. */
  | { readonly _tag: "Purged"; readonly key: string }
  /** Events may have been missed (the subscription was lost and is back): L1 copies are not to be trusted. */
  | { readonly _tag: "Resubscribed" }

export interface Locked {
  readonly token: string | undefined
  readonly entry: Entry | undefined
}

export interface SharedCacheService {
  readonly get: (key: string) => Effect.Effect<Entry | undefined, SharedCacheUnavailable>
  /** Stores an entry until its `staleUntil`, after which the store forgets it by itself. */
  readonly set: (key: string, entry: Entry) => Effect.Effect<void, SharedCacheUnavailable>
  /** Removes an entry; whether there was one. */
  readonly delete: (key: string) => Effect.Effect<boolean, SharedCacheUnavailable>
  /**
   * Tries to take the key's lock for `ttlMs` and reads the key's entry, in one step: `token` when this
   * caller got the lock (`undefined` when another holds it), and the entry stored at that moment, if any.
   */
  readonly lock: (key: string, ttlMs: number) => Effect.Effect<Locked, SharedCacheUnavailable>
  /**
   * Releases the lock if the token still holds it (one that expired and was taken again is left alone),
   * and publishes `Settled` for the key, in one step.
   */
  readonly release: (key: string, token: string) => Effect.Effect<void, SharedCacheUnavailable>
  readonly publish: (event: FleetEvent) => Effect.Effect<void, SharedCacheUnavailable>
  /** Calls `listener` with every event from every replica (this one included) for the life of the scope. */
  readonly subscribe: (listener: (event: FleetEvent) => void) => Effect.Effect<void, never, Scope.Scope>
  /** Whether the store answers at present, for `/metrics`. */
  readonly up: () => boolean
}

export class SharedCache extends Context.Tag("@convocore-effect/gateway/SharedCache")<
  SharedCache,
  SharedCacheService
>() {
  /**
   * An in-memory shared cache; gateways given the same `MemorySharedCache` share it as replicas share
   * Redis. `down` makes every operation fail, as when Redis is unreachable.
   */
  static readonly memory = (store: MemorySharedCache = new MemorySharedCache()) =>
    Layer.succeed(SharedCache, store.service)
}

/** The in-memory store's state, held outside any layer so that several gateways can share one. */
export class MemorySharedCache {
  readonly entries = new Map<string, Entry>()
  readonly locks = new Map<string, { readonly token: string; readonly until: number }>()
  readonly listeners = new Set<(event: FleetEvent) => void>()
  down = false
  private tokens = 0

  /** Runs `f` at the clock's time (a test's `TestClock` included), or fails while `down`. */
  private guard<A>(f: (now: number) => A): Effect.Effect<A, SharedCacheUnavailable> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      this.down ? Effect.fail(new SharedCacheUnavailable({ reason: "down" })) : Effect.sync(() => f(now))
    )
  }

  private entryAt(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key)
    return entry !== undefined && now < entry.staleUntil ? entry : undefined
  }

  readonly service: SharedCacheService = {
    get: (key) => this.guard((now) => this.entryAt(key, now)),
    set: (key, entry) => this.guard(() => void this.entries.set(key, entry)),
    delete: (key) => this.guard(() => this.entries.delete(key)),
    lock: (key, ttlMs) =>
      this.guard((now) => {
        const entry = this.entryAt(key, now)
        const held = this.locks.get(key)
        if (held !== undefined && now < held.until) return { token: undefined, entry }
        const token = String(++this.tokens)
        this.locks.set(key, { token, until: now + ttlMs })
        return { token, entry }
      }),
    release: (key, token) =>
      this.guard(() => {
        if (this.locks.get(key)?.token === token) this.locks.delete(key)
        for (const listener of this.listeners) listener({ _tag: "Settled", key })
      }),
    publish: (event) =>
      this.guard(() => {
        for (const listener of this.listeners) listener(event)
      }),
    subscribe: (listener) =>
      Effect.acquireRelease(
        Effect.sync(() => this.listeners.add(listener)),
        () => Effect.sync(() => this.listeners.delete(listener))
      ),
    up: () => !this.down
  }
}
