/**
 * The gateway's response cache: upstream documents by key (tenant, agent, conversation), bounded by count
 * and by bytes (least recently used goes first), fresh for a TTL, then kept for a stale-if-error window in
 * which they are served only when every region fails. Concurrent misses for one key are coalesced: one
 * upstream call, every waiter gets its outcome.
 *
 * All bookkeeping is synchronous JavaScript inside `Effect.sync`, so a lookup and the registration of an
 * in-flight call happen in one step that no other fiber can interleave with.
 */
import { Clock, Context, Deferred, Effect, FiberId, FiberSet, Layer } from "effect"
import { GatewayConfig } from "./GatewayConfig.js"

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

export type Lookup =
  | { readonly _tag: "Fresh"; readonly entry: Entry }
  /** Past its TTL but inside the stale-if-error window: only for when upstream fails. */
  | { readonly _tag: "Stale"; readonly entry: Entry }
  | { readonly _tag: "Miss" }

/** The cache key of a conversation for a tenant (a hash of the forwarded token, or `own-key`). */
export const cacheKey = (tenant: string, agentId: string, convoId: string): string =>
  `${tenant}\u0000${agentId}\u0000${convoId}`

export interface CacheStats {
  readonly entries: number
  readonly bytes: number
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
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.delete(oldest.value)
      evicted++
    }
    return evicted
  }

  delete(key: string): void {
    const entry = this.entries.get(key)
    if (entry === undefined) return
    this.entries.delete(key)
    if (key === this.newest) this.newest = undefined
    this.totalBytes -= entry.body.byteLength
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
    /** Stores a document under the configured TTL; returns whether it was stored and how many were evicted. */
    readonly store: (
      key: string,
      document: Document
    ) => Effect.Effect<{ readonly stored: boolean; readonly evicted: number }>
    /**
     * Runs `call` for `key` unless a call for it is in flight, in which case this caller waits for that
     * one's outcome. The call runs detached from its first caller, so one caller going away does not fail
     * the others.
     */
    readonly coalesce: <A>(key: string, call: Effect.Effect<A>) => Effect.Effect<Coalesced<A>>
    readonly stats: Effect.Effect<CacheStats>
    readonly ttlMs: number
  }
>() {
  static readonly layer = Layer.scoped(
    ResponseCache,
    Effect.gen(function* () {
      const { cache: settings } = yield* GatewayConfig
      const store = new LruStore(settings.maxEntries, settings.maxBytes)
      // Values are the outcome of one call for a key; typed per call site through `coalesce`'s generic.
      const inflight = new Map<string, Deferred.Deferred<unknown>>()
      const calls = yield* FiberSet.make()

      const lookupNow = (key: string, now: number): Lookup => {
        const entry = store.get(key, now)
        if (entry === undefined) return { _tag: "Miss" }
        return now < entry.expiresAt ? { _tag: "Fresh", entry } : { _tag: "Stale", entry }
      }
      const lookup = (key: string): Effect.Effect<Lookup> =>
        Effect.map(Clock.currentTimeMillis, (now) => lookupNow(key, now))

      const put = (key: string, document: Document) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (settings.ttlMs <= 0 && settings.staleIfErrorMs <= 0) return { stored: false, evicted: 0 }
          const expiresAt = now + settings.ttlMs
          const evicted = store.set(key, {
            ...document,
            storedAt: now,
            expiresAt,
            staleUntil: expiresAt + settings.staleIfErrorMs
          })
          return { stored: settings.ttlMs > 0, evicted }
        })

      const coalesce = <A>(key: string, call: Effect.Effect<A>): Effect.Effect<Coalesced<A>> =>
        Effect.suspend(() => {
          const existing = inflight.get(key)
          if (existing !== undefined) {
            // Only `coalesce` puts values under a key, and one key is always used with one call type.
            return Effect.map(Deferred.await(existing as Deferred.Deferred<A>), (value) => ({
              value,
              collapsed: true
            }))
          }
          const deferred = Deferred.unsafeMake<A>(FiberId.none)
          inflight.set(key, deferred as Deferred.Deferred<unknown>)
          const settle = call.pipe(
            Effect.exit,
            Effect.flatMap((exit) =>
              Effect.suspend(() => {
                inflight.delete(key)
                return Deferred.done(deferred, exit)
              })
            )
          )
          return Effect.zipRight(
            FiberSet.run(calls, settle),
            Effect.map(Deferred.await(deferred), (value) => ({ value, collapsed: false }))
          )
        })

      return {
        lookup,
        lookupNow,
        store: put,
        coalesce,
        stats: Effect.sync(() => ({ entries: store.size, bytes: store.bytes })),
        ttlMs: settings.ttlMs
      }
    })
  )
}
