/**
 * The gateway's response cache: upstream documents by key (tenant, agent, conversation or list page),
 * bounded by count and by bytes (least recently used goes first), fresh for a TTL, then kept for a stale-if-error window in
 * which they are served only when every region fails. Concurrent misses for one key are coalesced: one
 * upstream call, every waiter gets its outcome.
 *
 * All bookkeeping is synchronous JavaScript inside `Effect.sync`, so a lookup and the registration of an
 * in-flight call happen in one step that no other fiber can interleave with.
 *
 * With a `SharedCache` (Redis, `GATEWAY_REDIS_URL`) this in-process store is L1 in front of it as L2: a
 * lookup that finds nothing fresh in L1 asks L2 (and keeps what it finds in L1 for the time it has left),
 * a store writes both, and `exclusive` makes one replica at a time call upstream for a key. Every L2
 * failure is counted and ignored: the replica then serves from L1 and upstream, as without Redis.
 */
import { Clock, Context, Effect, Exit, FiberSet, Layer, Option, Runtime } from "effect"
import { GatewayConfig } from "./GatewayConfig.js"
import { GatewayMetrics } from "./GatewayMetrics.js"
import { type FleetEvent, SharedCache, type SharedCacheUnavailable } from "./SharedCache.js"
import { WakeUps } from "./WakeUps.js"

/** What the cache keeps of an upstream 200: its exact bytes and what the response headers need. */
export interface Document {
  readonly body: Uint8Array
  readonly contentType: string
  /** The region that served it (`eu`, `na`, or `custom` for a single base URL). */
  readonly region: string
  readonly upstreamRequestId: string | undefined
}

export interface Entry extends Document {
  readonly storedAt: number
  readonly expiresAt: number
  readonly staleUntil: number
}

/** Which layer an entry came from: this replica's memory, or the cache the replicas share. */
export type CacheLayer = "l1" | "l2"

export type Lookup =
  | { readonly _tag: "Fresh"; readonly entry: Entry; readonly layer: CacheLayer }
  /** Past its TTL but inside the stale window: for when upstream fails, or while it is revalidated. */
  | { readonly _tag: "Stale"; readonly entry: Entry; readonly layer: CacheLayer }
  | { readonly _tag: "Miss" }

/** What `exclusive` gave: this replica's call, or the entry another replica's call stored meanwhile. */
export type Exclusive<A> =
  | { readonly _tag: "Called"; readonly value: A }
  | { readonly _tag: "Landed"; readonly entry: Entry }

/** The cache key of a conversation for a tenant (a hash of the forwarded token, or `own-key`). */
export const cacheKey = (tenant: string, agentId: string, convoId: string): string =>
  `${tenant}\u0000${agentId}\u0000${convoId}`

/**
 * The cache key of one page of an agent's conversation list for a tenant; `path` is the page's upstream
 * path with its canonical query. The prefix keeps it apart from every conversation key (tenant first).
 */
export const listCacheKey = (tenant: string, path: string): string => `list\u0000${tenant}\u0000${path}`

export interface CacheStats {
  readonly entries: number
  readonly bytes: number
  /** Whether the shared cache answers; `undefined` without one. */
  readonly sharedUp: boolean | undefined
}

/** A least-recently-used map bounded by entry count and total body bytes; `Map` keeps insertion order. */
export class LruStore {
  private readonly entries = new Map<string, Entry>()
  private totalBytes = 0
  /**
   * The key last in the map's order, when known: a hit on it needs no move. Moving is a delete and a set,
   * and every delete leaves a hole that the map later compacts, a copy of the whole table.
   */
  private newest: string | undefined = undefined
  /**
   * Walks the map from its oldest entry, for evictions, for the store's life: entries only join or move at
   * the end and every key it gives is evicted at once, so none live before it. A fresh `keys()` would step
   * again over every hole that deletions leave at the front of a `Map` until it compacts (6.5 µs an
   * eviction at 10,000 entries, against 0.25 µs; bench/README.md, gateway misses).
   */
  private oldest: Iterator<string> = this.entries.keys()

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number
  ) {}

  get size(): number {
    return this.entries.size
  }

  get bytes(): number {
    return this.totalBytes
  }

  /** The entry, marked most recently used; one whose stale window is over is dropped. */
  get(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (now >= entry.staleUntil) {
      this.delete(key)
      return undefined
    }
    if (key !== this.newest) {
      this.entries.delete(key)
      this.entries.set(key, entry)
      this.newest = key
    }
    return entry
  }

  /** Stores an entry; returns how many others were evicted to make room. */
  set(key: string, entry: Entry): number {
    this.delete(key)
    if (entry.body.byteLength > this.maxBytes) return 0
    this.entries.set(key, entry)
    this.newest = key
    this.totalBytes += entry.body.byteLength
    let evicted = 0
    while (this.entries.size > this.maxEntries || this.totalBytes > this.maxBytes) {
      let oldest = this.oldest.next()
      if (oldest.done === true) {
        this.oldest = this.entries.keys()
        oldest = this.oldest.next()
      }
      if (oldest.done === true) break
      this.delete(oldest.value)
      evicted++
    }
    return evicted
  }

  clear(): void {
    this.entries.clear()
    this.oldest = this.entries.keys()
    this.newest = undefined
    this.totalBytes = 0
  }

  /** Drops the key's entry; returns whether there was one. */
  delete(key: string): boolean {
    const entry = this.entries.get(key)
    if (entry === undefined) return false
    this.entries.delete(key)
    if (key === this.newest) this.newest = undefined
    this.totalBytes -= entry.body.byteLength
    return true
  }
}

export interface Coalesced<A> {
  readonly value: A
  /** True for a caller that waited on another caller's upstream call. */
  readonly collapsed: boolean
}

export class ResponseCache extends Context.Tag("@convocore-effect/gateway/ResponseCache")<
  ResponseCache,
  {
    readonly lookup: (key: string) => Effect.Effect<Lookup>
    /** The same lookup, synchronous, for the fast path of cache hits (./FastPath.ts). */
    readonly lookupNow: (key: string, now: number) => Lookup
    /**
     * Stores a document for `ttlMs` (default: the configured TTL); returns whether it was stored and how
     * many were evicted.
     */
    readonly store: (
      key: string,
      document: Document,
      ttlMs?: number
    ) => Effect.Effect<{ readonly stored: boolean; readonly evicted: number }>
    /**
     * Runs `call` for `key` unless a call for it is in flight, in which case this caller waits for that
     * one's outcome. The call runs detached from its first caller, so one caller going away does not fail
     * the others.
     */
    readonly coalesce: <A>(key: string, call: Effect.Effect<A>) => Effect.Effect<Coalesced<A>>
    /**
     * `coalesce` for a caller outside any fiber (./FastPath.ts): a call that starts runs on `runtime`,
     * `onDone` gets its outcome. Returns what stops this caller's waiting (the call goes on for the others).
     */
    readonly coalesceNow: <A>(
      key: string,
      call: Effect.Effect<A>,
      runtime: Runtime.Runtime<never>,
      onDone: (outcome: Exit.Exit<Coalesced<A>>) => void
    ) => () => void
    /**
     * Runs `call` holding the key's lock across replicas; when another replica holds it, waits (at most
     * `GATEWAY_CACHE_LOCK_TIMEOUT`) for that call to store the entry, and runs `call` itself if none lands.
     * Only an entry stored at or after `since` (the request's start) counts as landed: a request that asked
     * for a new copy (`no-cache`) never gets an older one. Without a shared cache, or when it fails, it
     * simply runs `call`.
     */
    readonly exclusive: <A>(key: string, call: Effect.Effect<A>, since: number) => Effect.Effect<Exclusive<A>>
    /** Drops the key's entry here and in the shared cache, and tells the other replicas to drop theirs. */
    readonly purge: (key: string) => Effect.Effect<boolean>
    /** Whether a stale entry is inside the stale-while-revalidate window (served at once, refreshed behind). */
    readonly revalidates: (entry: Entry, now: number) => boolean
    /** Whether a stale entry may stand in for a failed upstream call (stale-if-error). */
    readonly servesOnError: (entry: Entry, now: number) => boolean
    readonly stats: Effect.Effect<CacheStats>
    readonly ttlMs: number
    /** Whether a shared cache is configured (the `Cache-Status` then names the layer). */
    readonly shared: boolean
  }
>() {
  static readonly layer = Layer.scoped(
    ResponseCache,
    Effect.gen(function* () {
      const { cache: settings, redis } = yield* GatewayConfig
      const shared = Option.getOrUndefined(yield* Effect.serviceOption(SharedCache))
      const metrics = Option.getOrUndefined(yield* Effect.serviceOption(GatewayMetrics))
      const store = new LruStore(settings.maxEntries, settings.maxBytes)
      const keepMs = Math.max(settings.staleIfErrorMs, settings.staleWhileRevalidateMs)
      // The callers waiting on the one call in flight for a key. Values are that call's outcome, typed
      // per call site through `coalesceNow`'s generic.
      const inflight = new Map<string, Array<(outcome: Exit.Exit<unknown>) => void>>()
      const calls = yield* FiberSet.make()

      const lookupNow = (key: string, now: number): Lookup => {
        const entry = store.get(key, now)
        if (entry === undefined) return { _tag: "Miss" }
        return now < entry.expiresAt
          ? { _tag: "Fresh", entry, layer: "l1" }
          : { _tag: "Stale", entry, layer: "l1" }
      }

      /** A shared-cache operation whose failure is counted and replaced by `otherwise`. */
      const orElse = <A>(operation: string, effect: Effect.Effect<A, SharedCacheUnavailable>, otherwise: A) =>
        Effect.catchAll(effect, () =>
          Effect.sync(() => {
            metrics?.redisError(operation)
            return otherwise
          })
        )

      /** An entry read from the shared cache, kept in L1 for the time it has left. */
      const keep = (key: string, entry: Entry | undefined, now: number): Entry | undefined => {
        if (entry === undefined || now >= entry.staleUntil) return undefined
        store.set(key, entry)
        return entry
      }
      const fromShared = (key: string, now: number): Effect.Effect<Entry | undefined> =>
        shared === undefined
          ? Effect.succeed(undefined)
          : Effect.map(orElse("get", shared.get(key), undefined), (entry) => keep(key, entry, now))

      const lookup = (key: string): Effect.Effect<Lookup> =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const local = lookupNow(key, now)
          if (local._tag === "Fresh" || shared === undefined) return Effect.succeed(local)
          return Effect.map(fromShared(key, now), (entry): Lookup => {
            if (entry === undefined) return local
            // Another replica may have refreshed what this one holds stale.
            return now < entry.expiresAt
              ? { _tag: "Fresh", entry, layer: "l2" }
              : { _tag: "Stale", entry, layer: "l2" }
          })
        })

      const put = (key: string, document: Document, ttlMs = settings.ttlMs) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (ttlMs <= 0 && keepMs <= 0) return Effect.succeed({ stored: false, evicted: 0 })
          const expiresAt = now + ttlMs
          // Field by field: a document handed in is often more (an upstream result with its attempt trail),
          // and an entry may be kept for minutes.
          const entry: Entry = {
            body: document.body,
            contentType: document.contentType,
            region: document.region,
            upstreamRequestId: document.upstreamRequestId,
            storedAt: now,
            expiresAt,
            staleUntil: expiresAt + keepMs
          }
          const evicted = store.set(key, entry)
          const outcome = { stored: ttlMs > 0, evicted }
          return shared === undefined
            ? Effect.succeed(outcome)
            : Effect.as(orElse("set", shared.set(key, entry), undefined), outcome)
        })

      const wakeUps = new WakeUps()
      const purgeEcho = (key: string) => `purged\u0000${key}`

      if (shared !== undefined) {
        yield* shared.subscribe((event: FleetEvent) => {
          switch (event._tag) {
            case "Settled":
              return wakeUps.wake(event.key)
            case "Purged":
              store.delete(event.key)
              return wakeUps.wake(purgeEcho(event.key))
            case "Resubscribed":
              // Purges published while this replica was not listening are unknown: forget every copy.
              store.clear()
              return wakeUps.wakeAll()
          }
        })
      }

      const called = <A>(value: A): Exclusive<A> => ({ _tag: "Called", value })
      const exclusive = <A>(
        key: string,
        call: Effect.Effect<A>,
        since: number
      ): Effect.Effect<Exclusive<A>> => {
        if (shared === undefined) return Effect.map(call, called)
        /** The entry if it is fresh and was stored since the request began: what another replica's call gave. */
        const landedOf = (entry: Entry | undefined, now: number): Exclusive<A> | undefined => {
          const kept = keep(key, entry, now)
          return kept !== undefined && now < kept.expiresAt && kept.storedAt >= since
            ? { _tag: "Landed", entry: kept }
            : undefined
        }
        return wakeUps.waitingOn(key, (woken) =>
          Effect.gen(function* () {
            const locked = yield* orElse("lock", shared.lock(key, settings.lockTimeoutMs), null)
            if (locked === null) return called(yield* call)
            // Another replica may have stored the entry (and let the lock go) since this request looked.
            const early = landedOf(locked.entry, yield* Clock.currentTimeMillis)
            const token = locked.token
            if (token !== undefined) {
              // The entry is stored (inside `call`) before the lock goes and the waiters are told.
              return yield* Effect.ensuring(
                early === undefined ? Effect.map(call, called) : Effect.succeed(early),
                orElse("release", shared.release(key, token), undefined)
              )
            }
            if (early !== undefined) return early
            // Another replica is calling: its entry comes with its event.
            yield* Effect.timeoutOption(woken, settings.lockTimeoutMs)
            const now = yield* Clock.currentTimeMillis
            const late = landedOf(yield* orElse("get", shared.get(key), undefined), now)
            // Its call failed (errors are not shared), or it took too long: this replica asks itself.
            return late ?? called(yield* call)
          })
        )
      }

      const purge = (key: string): Effect.Effect<boolean> =>
        Effect.gen(function* () {
          const local = store.delete(key)
          if (shared === undefined) return local
          const removed = yield* orElse("delete", shared.delete(key), false)
          // Redis sends a message to every subscriber in turn: once this replica's own copy is back, the
          // others were sent theirs. Bounded, so a lost subscription delays the answer by no more.
          yield* wakeUps.waitingOn(purgeEcho(key), (echoed) =>
            Effect.zipRight(
              orElse("publish", shared.publish({ _tag: "Purged", key }), undefined),
              Effect.timeoutOption(echoed, redis?.commandTimeoutMs ?? 0)
            )
          )
          return local || removed
        })

      // Plain callbacks rather than a Deferred and an awaiting fiber per caller: a miss pays for the one
      // fiber of its call and nothing more (bench/README.md, gateway misses).
      const coalesceNow = <A>(
        key: string,
        call: Effect.Effect<A>,
        runtime: Runtime.Runtime<never>,
        onDone: (outcome: Exit.Exit<Coalesced<A>>) => void
      ): (() => void) => {
        const existing = inflight.get(key)
        const collapsed = existing !== undefined
        // Only `coalesceNow` puts callers under a key, and one key is always used with one call type.
        const waiter = (exit: Exit.Exit<unknown>) =>
          onDone(Exit.map(exit, (value) => ({ value: value as A, collapsed })))
        const stop = () => {
          const waiters = inflight.get(key)
          const at = waiters === undefined ? -1 : waiters.indexOf(waiter)
          if (at !== -1) waiters?.splice(at, 1)
        }
        if (existing !== undefined) {
          existing.push(waiter)
          return stop
        }
        const waiters = [waiter]
        inflight.set(key, waiters)
        // The call runs detached from its first caller, in the cache's scope (interrupted when it closes).
        const fiber = Runtime.runFork(runtime)(call)
        FiberSet.unsafeAdd(calls, fiber)
        fiber.addObserver((exit) => {
          inflight.delete(key)
          for (const waiting of waiters) waiting(exit)
        })
        return stop
      }

      const coalesce = <A>(key: string, call: Effect.Effect<A>): Effect.Effect<Coalesced<A>> =>
        Effect.flatMap(Effect.runtime<never>(), (runtime) =>
          Effect.async<Coalesced<A>>((resume) => {
            const stop = coalesceNow(key, call, runtime, resume)
            return Effect.sync(stop)
          })
        )

      return {
        lookup,
        lookupNow,
        store: put,
        coalesce,
        coalesceNow,
        exclusive,
        purge,
        revalidates: (entry, now) =>
          now >= entry.expiresAt && now < entry.expiresAt + settings.staleWhileRevalidateMs,
        servesOnError: (entry, now) => now < entry.expiresAt + settings.staleIfErrorMs,
        stats: Effect.sync(() => ({ entries: store.size, bytes: store.bytes, sharedUp: shared?.up() })),
        ttlMs: settings.ttlMs,
        shared: shared !== undefined
      }
    })
  )
}
