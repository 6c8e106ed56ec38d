/**
 * Reads served from the cache, as the conversation and list routes serve them: cache layers, caller
 * directives, coalescing here and across replicas, stale-while-revalidate, stale-if-error, and upstream
 * errors passed through unstored. The answer is made by synchronous steps before and after the upstream
 * call (`plan`, `settle`), served by an effect to the `HttpApi` routes and by a callback to ./FastPath.ts.
 *
 * Cache-Status (RFC 9211), cache name `convocore-gateway`:
 * - `hit; ttl=12`                         fresh entry, no upstream call (with Redis, `hit; ttl=12; detail=l1`
 *                                         from this replica's memory, `detail=l2` from the shared cache);
 * - `hit; ttl=12; detail=l2-wait`         another replica was fetching it: this request waited for its entry;
 * - `fwd=stale; ttl=-3; detail=stale-while-revalidate`
 *                                         a stale entry served at once while one replica refreshes it;
 * - `fwd=miss; stored; ttl=30`            fetched and stored (`fwd=stale` when a stale entry existed,
 *                                         `fwd=request` when the caller sent `Cache-Control: no-cache`);
 * - `fwd=miss; collapsed`                 this request waited on an identical one's upstream call;
 * - `fwd=stale; fwd-status=503; ttl=-40; detail=stale-if-error`
 *                                         every region failed, a stale entry was served (with `Warning`
 *                                         and `x-cache-stale: 1`);
 * - `fwd=miss; fwd-status=404`            an upstream error, passed through, never stored.
 */
import type { HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Exit, FiberId, Runtime } from "effect"
import {
  type Answer,
  ageOf,
  cacheName,
  cacheStatus,
  documentAnswer,
  failureAnswer,
  hitHeaders,
  isUnavailable,
  jsonAnswer,
  retryAfterSeconds,
  statusOf,
  toResponse,
  ttlOf,
  upstreamStatusOf
} from "./Answers.js"
import { GatewayMetrics } from "./GatewayMetrics.js"
import {
  type CacheLayer,
  type Coalesced,
  type Exclusive,
  type Lookup,
  ResponseCache
} from "./ResponseCache.js"
import { Upstream, type UpstreamResult } from "./Upstream.js"

interface Called {
  readonly result: UpstreamResult
  readonly stored: boolean
  readonly ttlMs: number
}

/** This replica's upstream call, or the entry another replica's call stored while this one waited. */
type Fetched = Exclusive<Called>

/** A read the gateway serves from its cache: where its answer is kept, for how long, and how to fetch it. */
export interface CachedRead {
  readonly key: string
  /** How long a fetched answer is served from the cache. */
  readonly ttlMs: number
  /** False: nothing is stored for this route (its caching is off); identical calls in flight still join. */
  readonly stores: boolean
  readonly call: Effect.Effect<UpstreamResult>
  /** The caller's `Cache-Control`, if it sent one. */
  readonly cacheControl: string | undefined
}

/** What the caller's `Cache-Control` asks of a read. */
interface Directives {
  readonly noCache: boolean
  readonly noStore: boolean
  readonly onlyIfCached: boolean
}

const directivesOf = (read: CachedRead): Directives => {
  if (read.cacheControl === undefined) return { noCache: false, noStore: !read.stores, onlyIfCached: false }
  const directives = read.cacheControl.toLowerCase()
  return {
    noCache: /\bno-cache\b|\bmax-age=0\b/.test(directives),
    noStore: !read.stores || /\bno-store\b/.test(directives),
    onlyIfCached: /\bonly-if-cached\b/.test(directives)
  }
}

/** What a read does once the cache has been asked: answer at once (and maybe refresh behind), or fetch. */
type Plan =
  | { readonly _tag: "Answer"; readonly answer: Answer; readonly refresh: boolean }
  | { readonly _tag: "Fetch"; readonly noStore: boolean; readonly forward: string }

/** A fetch's outcome that needs more than the fetch to answer: an upstream failure (stale-if-error, Retry-After). */
interface Failed {
  readonly _tag: "Failed"
  readonly result: Extract<UpstreamResult, { readonly _tag: "Failure" }>
  readonly collapsed: boolean
}

/** What a fetch's outcome gives: the answer, or a failure that needs more to answer. */
type Settled = { readonly _tag: "Answered"; readonly answer: Answer } | Failed

const answered = (answer: Answer): Settled => ({ _tag: "Answered", answer })

/** Why a miss's fiber was interrupted: the caller went away before its answer, as the platform does. */
const callerGone = FiberId.make(-499, 0)

const ignore = () => {}

/** The read's answers: by an effect for the `HttpApi` routes, by a callback for ./FastPath.ts. */
export interface CachedReads {
  readonly serve: (read: CachedRead) => Effect.Effect<HttpServerResponse.HttpServerResponse>
  /**
   * The same answer for a caller outside any fiber: `onAnswer` gets it; the upstream call (if any) runs
   * on `runtime`. With only this replica's cache, a miss is one fiber (its upstream call, shared by the
   * identical requests in flight) and a few synchronous steps. Returns what stops waiting for the answer
   * (the caller went away); a call already made goes on for the others.
   */
  readonly serveNow: (
    read: CachedRead,
    runtime: Runtime.Runtime<never>,
    onAnswer: (answer: Exit.Exit<Answer>) => void
  ) => () => void
}

/**
 * Serves a read as the conversation route does: cache layers, caller directives, coalescing here and
 * across replicas, stale-while-revalidate, stale-if-error, and upstream errors passed through unstored.
 */
export const makeCachedReads: Effect.Effect<CachedReads, never, ResponseCache | Upstream | GatewayMetrics> =
  Effect.gen(function* () {
    const cache = yield* ResponseCache
    const upstream = yield* Upstream
    const metrics = yield* GatewayMetrics
    const layerDetail = (layer: CacheLayer) => (cache.shared ? layer : undefined)

    const plan = ({ noCache, noStore, onlyIfCached }: Directives, before: Lookup, now: number): Plan => {
      if (before._tag === "Fresh" && (!noCache || onlyIfCached)) {
        metrics.cacheEvent("hit")
        if (before.layer === "l2") metrics.cacheEvent("hit-l2")
        const answer = documentAnswer(before.entry, hitHeaders(before.entry, now, layerDetail(before.layer)))
        return { _tag: "Answer", answer, refresh: false }
      }
      // RFC 9111 5.2.1.7: the caller wants a stored answer or none; the upstream is never asked.
      if (onlyIfCached) {
        const answer = jsonAnswer(
          504,
          {
            message: "Not in the gateway's cache (the request said only-if-cached)",
            code: "GATEWAY_TIMEOUT"
          },
          { "cache-status": cacheStatus("fwd=miss", "detail=only-if-cached") }
        )
        return { _tag: "Answer", answer, refresh: false }
      }
      if (before._tag === "Stale" && !noCache && cache.revalidates(before.entry, now)) {
        // Served at once; the refresh joins any call for the key in flight here or on another replica.
        metrics.cacheEvent("stale")
        const answer = documentAnswer(before.entry, {
          "cache-status": cacheStatus(
            "fwd=stale",
            `ttl=${ttlOf(before.entry, now)}`,
            "detail=stale-while-revalidate"
          ),
          age: ageOf(before.entry, now)
        })
        return { _tag: "Answer", answer, refresh: true }
      }
      const forward = noCache ? "fwd=request" : before._tag === "Stale" ? "fwd=stale" : "fwd=miss"
      return { _tag: "Fetch", noStore, forward }
    }

    const call = (read: CachedRead, noStore: boolean): Effect.Effect<Called> =>
      Effect.flatMap(read.call, (result): Effect.Effect<Called> => {
        if (result._tag !== "Document" || noStore)
          return Effect.succeed({ result, stored: false, ttlMs: read.ttlMs })
        return Effect.map(cache.store(read.key, result, read.ttlMs), ({ stored, evicted }) => {
          if (stored) metrics.cacheEvent("stored")
          metrics.cacheEvent("evicted", evicted)
          return { result, stored, ttlMs: read.ttlMs }
        })
      })
    // One call per key on this replica (`coalesce`), and across replicas for calls that store (`exclusive`).
    // Requests that may store and requests that may not never share a call. `started` (taken before the
    // lookup): an entry another replica stores after it is one this request may take instead of calling,
    // even if it lands while the lookup is on its way.
    const fetchKey = (read: CachedRead, noStore: boolean) => `${read.key}\u0000${noStore}`
    const fetch = (read: CachedRead, noStore: boolean, started: number): Effect.Effect<Fetched> =>
      noStore
        ? Effect.map(call(read, true), (value) => ({ _tag: "Called", value }) as const)
        : cache.exclusive(read.key, call(read, false), started)
    const refresh = (read: CachedRead, started: number, runtime: Runtime.Runtime<never>) => {
      cache.coalesceNow(fetchKey(read, false), fetch(read, false, started), runtime, ignore)
    }

    /** A fetch's answer when it needs nothing more: a document, or the entry another replica stored. */
    const settle = (
      forward: string,
      { collapsed, value: fetched }: Coalesced<Fetched>,
      now: number
    ): Settled => {
      if (fetched._tag === "Landed") {
        metrics.cacheEvent("hit-l2")
        metrics.cacheEvent("collapsed")
        return answered(documentAnswer(fetched.entry, hitHeaders(fetched.entry, now, "l2-wait")))
      }
      const value = fetched.value
      metrics.cacheEvent(collapsed ? "collapsed" : "miss")
      const result = value.result
      if (result._tag !== "Document") return { _tag: "Failed", result, collapsed }
      return answered(
        documentAnswer(result, {
          "cache-status": collapsed
            ? cacheStatus(forward, "collapsed")
            : cacheStatus(
                forward,
                value.stored ? "stored" : undefined,
                value.stored ? `ttl=${Math.floor(value.ttlMs / 1000)}` : undefined
              )
        })
      )
    }

    const failed = (
      read: CachedRead,
      forward: string,
      { result, collapsed }: Failed
    ): Effect.Effect<Answer> =>
      Effect.gen(function* () {
        const error = result.error
        const upstreamStatus = upstreamStatusOf(error)
        if (isUnavailable(error)) {
          const fallback = yield* cache.lookup(read.key)
          const now = yield* Clock.currentTimeMillis
          if (fallback._tag !== "Miss" && cache.servesOnError(fallback.entry, now)) {
            metrics.cacheEvent("stale")
            return documentAnswer(fallback.entry, {
              "cache-status": cacheStatus(
                "fwd=stale",
                upstreamStatus === undefined ? undefined : `fwd-status=${upstreamStatus}`,
                `ttl=${ttlOf(fallback.entry, now)}`,
                "detail=stale-if-error"
              ),
              age: ageOf(fallback.entry, now),
              warning: `110 ${cacheName} "Response is Stale", 111 ${cacheName} "Revalidation Failed"`,
              "x-cache-stale": "1"
            })
          }
        }
        const status = statusOf(error)
        const headers: Record<string, string> = {
          "cache-status": cacheStatus(
            forward,
            upstreamStatus === undefined ? undefined : `fwd-status=${upstreamStatus}`,
            collapsed ? "collapsed" : undefined,
            error._tag === "AllRegionsFailed" ? "detail=all-regions-failed" : undefined
          )
        }
        if (status === 429 || status === 503) {
          headers["retry-after"] = String(retryAfterSeconds(error, yield* upstream.health))
        }
        return failureAnswer(error, result.response, headers)
      })

    const answer = (read: CachedRead): Effect.Effect<Answer> =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const before = yield* cache.lookup(read.key)
        const planned = plan(directivesOf(read), before, yield* Clock.currentTimeMillis)
        if (planned._tag === "Answer") {
          if (planned.refresh) refresh(read, started, yield* Effect.runtime<never>())
          return planned.answer
        }
        const fetched = yield* cache.coalesce(
          fetchKey(read, planned.noStore),
          fetch(read, planned.noStore, started)
        )
        const settled = settle(planned.forward, fetched, yield* Clock.currentTimeMillis)
        return settled._tag === "Failed" ? yield* failed(read, planned.forward, settled) : settled.answer
      })

    const serveNow = (
      read: CachedRead,
      runtime: Runtime.Runtime<never>,
      onAnswer: (answer: Exit.Exit<Answer>) => void
    ): (() => void) => {
      // The shared cache is asked by effects (lookups, locks): the whole answer runs in a fiber.
      if (cache.shared) {
        const fiber = Runtime.runFork(runtime)(answer(read))
        fiber.addObserver(onAnswer)
        return () => fiber.unsafeInterruptAsFork(callerGone)
      }
      const started = Date.now()
      const planned = plan(directivesOf(read), cache.lookupNow(read.key, started), started)
      if (planned._tag === "Answer") {
        if (planned.refresh) refresh(read, started, runtime)
        onAnswer(Exit.succeed(planned.answer))
        return ignore
      }
      return cache.coalesceNow(
        fetchKey(read, planned.noStore),
        fetch(read, planned.noStore, started),
        runtime,
        (outcome) => {
          if (Exit.isFailure(outcome)) return onAnswer(Exit.failCause(outcome.cause))
          const settled = settle(planned.forward, outcome.value, Date.now())
          if (settled._tag === "Answered") return onAnswer(Exit.succeed(settled.answer))
          Runtime.runFork(runtime)(failed(read, planned.forward, settled)).addObserver(onAnswer)
        }
      )
    }

    return { serve: (read) => Effect.map(answer(read), toResponse), serveNow }
  })
