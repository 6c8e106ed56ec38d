/**
 * The conversation route: cache, coalescing, upstream call, and the answer with the upstream's exact
 * bytes and the gateway's headers. Written with `handleRaw`, since the body is bytes from the wire (not a
 * re-encoding) and the headers say how the answer was made. The list route (./ListPages.ts) is served by
 * the same `makeCachedReads`, with its own key, TTL and upstream call.
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
import type { Received } from "@convocore-effect/client"
import type { ConvocoreError } from "@convocore-effect/schema"
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect } from "effect"
import { Caller, type CallerInfo, GatewayApi } from "./GatewayApi.js"
import { GatewayMetrics } from "./GatewayMetrics.js"
import {
  type CacheLayer,
  type Coalesced,
  cacheKey,
  type Entry,
  type Exclusive,
  ResponseCache
} from "./ResponseCache.js"
import { type RegionHealth, Upstream, type UpstreamResult } from "./Upstream.js"

export const cacheName = "convocore-gateway"
export const regionHeader = "x-convocore-region"

const jsonType = "application/json; charset=utf-8"

/** Failures a cached copy may stand in for: the upstream could not answer; not its authoritative "no". */
const isUnavailable = (error: ConvocoreError): boolean => {
  switch (error._tag) {
    case "AllRegionsFailed":
    case "TransportError":
    case "Timeout":
    case "UpstreamServerError":
    case "RateLimited":
    case "InvalidResponse":
      return true
    default:
      return false
  }
}

/** The status the gateway answers for a failure (see the README's error table). */
export const statusOf = (error: ConvocoreError): number => {
  switch (error._tag) {
    case "InvalidInput":
      return 400
    case "Unauthorized":
    case "Forbidden":
    case "NotFound":
    case "BadRequest":
      return error.status
    case "RateLimited":
      return 429
    case "InvalidResponse":
      return 502
    default:
      return 503
  }
}

const upstreamStatusOf = (error: ConvocoreError): number | undefined => {
  if ("status" in error) return error.status
  if (error._tag === "AllRegionsFailed") return error.attempts.findLast((a) => a.status !== undefined)?.status
  return undefined
}

/** Seconds a client should wait: until the first open breaker lets a probe through, else a short pause. */
export const retryAfterSeconds = (error: ConvocoreError, regions: ReadonlyArray<RegionHealth>): number => {
  if (error._tag === "RateLimited" && error.retryAfterMs !== undefined)
    return Math.max(1, Math.ceil(error.retryAfterMs / 1000))
  const open = regions.map((r) => r.retryInMs).filter((ms): ms is number => ms !== undefined)
  if (open.length === regions.length && open.length > 0)
    return Math.min(300, Math.max(1, Math.ceil(Math.min(...open) / 1000)))
  return error._tag === "RateLimited" ? 1 : 2
}

const errorBody = (error: ConvocoreError): unknown => {
  switch (error._tag) {
    case "InvalidInput":
      return {
        message: error.message,
        code: "BAD_REQUEST",
        issues: [{ message: error.message, path: [error.field] }]
      }
    case "Unauthorized":
    case "Forbidden":
    case "NotFound":
    case "BadRequest":
    case "RateLimited":
      return {
        message: error.message,
        code: error.code ?? (error._tag === "RateLimited" ? "TOO_MANY_REQUESTS" : "BAD_REQUEST"),
        ...(error.issues.length > 0 ? { issues: error.issues } : {})
      }
    case "InvalidResponse":
      return {
        message: `Convocore answered an invalid response (${error.reason}): ${error.message}`,
        code: "BAD_GATEWAY"
      }
    case "AllRegionsFailed":
      return {
        message: `Convocore is unavailable: ${error.message}`,
        code: "SERVICE_UNAVAILABLE",
        issues: error.attempts.map((a) => ({
          message: `${a.region} attempt ${a.attempt}: ${a.outcome}${a.status === undefined ? "" : ` (HTTP ${a.status})`}`,
          region: a.region,
          attempt: a.attempt,
          outcome: a.outcome,
          ...(a.status === undefined ? {} : { status: a.status }),
          ms: a.ms
        }))
      }
    default:
      return { message: `Convocore is unavailable: ${error.message}`, code: "SERVICE_UNAVAILABLE" }
  }
}

const cacheStatus = (...parameters: ReadonlyArray<string | undefined>) =>
  [cacheName, ...parameters.filter((p): p is string => p !== undefined)].join("; ")

export const ageOf = (entry: Entry, now: number) =>
  String(Math.max(0, Math.floor((now - entry.storedAt) / 1000)))

const ttlOf = (entry: Entry, now: number) => Math.floor((entry.expiresAt - now) / 1000)

/** The `Cache-Status` of a fresh hit; `detail` names the layer when there are two (Redis configured). */
export const hitStatus = (entry: Entry, now: number, detail?: string): string =>
  detail === undefined
    ? `${cacheName}; hit; ttl=${ttlOf(entry, now)}`
    : `${cacheName}; hit; ttl=${ttlOf(entry, now)}; detail=${detail}`

/** The headers of a fresh cache hit; the fast path (./FastPath.ts) answers with the same ones. */
export const hitHeaders = (entry: Entry, now: number, detail?: string): Record<string, string> => ({
  "cache-status": hitStatus(entry, now, detail),
  age: ageOf(entry, now)
})

/** The headers every document answer carries, beside how it was made. */
export const documentHeaders = (
  entry: Pick<Entry, "region" | "upstreamRequestId">,
  headers: Record<string, string>
): Record<string, string> => ({
  ...headers,
  [regionHeader]: entry.region,
  ...(entry.upstreamRequestId === undefined ? {} : { "x-upstream-request-id": entry.upstreamRequestId })
})

const documentResponse = (
  entry: Pick<Entry, "body" | "contentType" | "region" | "upstreamRequestId">,
  headers: Record<string, string>
) =>
  HttpServerResponse.uint8Array(entry.body, {
    status: 200,
    contentType: entry.contentType,
    headers: documentHeaders(entry, headers)
  })

/** The answer to a failure: the upstream's own error bytes when it gave them, else the gateway's body. */
export const failureResponse = (
  error: ConvocoreError,
  captured: Received | undefined,
  headers: Record<string, string>
) => {
  const status = statusOf(error)
  // The upstream's own answer (401, 403, 404, 400, 429) goes back as it came: same status, same bytes.
  const passThrough = captured !== undefined && captured.status === status && status < 500
  const region = "region" in error && error.region !== undefined ? { [regionHeader]: error.region } : {}
  return passThrough
    ? HttpServerResponse.uint8Array(captured.body, {
        status,
        contentType: captured.headers["content-type"] ?? jsonType,
        headers: { ...headers, ...region }
      })
    : HttpServerResponse.unsafeJson(errorBody(error), { status, headers: { ...headers, ...region } })
}

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

/** The conversation route's read for a caller: what the `HttpApi` route and ./FastPath.ts serve. */
export const conversationRead = (
  cache: ResponseCache["Type"],
  upstream: Upstream["Type"],
  caller: CallerInfo,
  path: { readonly agentId: string; readonly convoId: string },
  cacheControl: string | undefined
): CachedRead => ({
  key: cacheKey(caller.tenant, path.agentId, path.convoId),
  ttlMs: cache.ttlMs,
  stores: true,
  call: upstream.getConversation(path.agentId, path.convoId, caller.upstreamToken),
  cacheControl
})

/**
 * Serves a read as the conversation route does: cache layers, caller directives, coalescing here and
 * across replicas, stale-while-revalidate, stale-if-error, and upstream errors passed through unstored.
 */
export const makeCachedReads = Effect.gen(function* () {
  const cache = yield* ResponseCache
  const upstream = yield* Upstream
  const metrics = yield* GatewayMetrics

  return (read: CachedRead) =>
    Effect.gen(function* () {
      const directives = (read.cacheControl ?? "").toLowerCase()
      const noCache = /\bno-cache\b|\bmax-age=0\b/.test(directives)
      const noStore = !read.stores || /\bno-store\b/.test(directives)
      const onlyIfCached = /\bonly-if-cached\b/.test(directives)
      const key = read.key

      const layerDetail = (layer: CacheLayer) => (cache.shared ? layer : undefined)
      // Taken before the lookup: an entry another replica stores after this moment is one this request
      // may take instead of calling (see `exclusive`), even if it lands while the lookup is on its way.
      const started = yield* Clock.currentTimeMillis
      const before = yield* cache.lookup(key)
      if (before._tag === "Fresh" && (!noCache || onlyIfCached)) {
        metrics.cacheEvent("hit")
        if (before.layer === "l2") metrics.cacheEvent("hit-l2")
        return documentResponse(
          before.entry,
          hitHeaders(before.entry, yield* Clock.currentTimeMillis, layerDetail(before.layer))
        )
      }
      // RFC 9111 5.2.1.7: the caller wants a stored answer or none; the upstream is never asked.
      if (onlyIfCached) {
        return HttpServerResponse.unsafeJson(
          {
            message: "Not in the gateway's cache (the request said only-if-cached)",
            code: "GATEWAY_TIMEOUT"
          },
          { status: 504, headers: { "cache-status": cacheStatus("fwd=miss", "detail=only-if-cached") } }
        )
      }

      const call = (noStore: boolean): Effect.Effect<Called> =>
        Effect.gen(function* () {
          const result = yield* read.call
          if (result._tag !== "Document" || noStore) return { result, stored: false, ttlMs: read.ttlMs }
          const { stored, evicted } = yield* cache.store(key, result, read.ttlMs)
          if (stored) metrics.cacheEvent("stored")
          metrics.cacheEvent("evicted", evicted)
          return { result, stored, ttlMs: read.ttlMs }
        })
      const now = yield* Clock.currentTimeMillis
      // One call per key on this replica (`coalesce`), and across replicas for calls that store (`exclusive`).
      // Requests that may store and requests that may not never share a call.
      const fetch = (noStore: boolean): Effect.Effect<Coalesced<Fetched>> =>
        cache.coalesce(
          `${key}\u0000${noStore}`,
          noStore
            ? Effect.map(call(true), (value) => ({ _tag: "Called", value }) as const)
            : cache.exclusive(key, call(false), started)
        )

      if (before._tag === "Stale" && !noCache && cache.revalidates(before.entry, now)) {
        // Served at once; the refresh joins any call for the key in flight here or on another replica.
        yield* cache.background(fetch(false))
        metrics.cacheEvent("stale")
        return documentResponse(before.entry, {
          "cache-status": cacheStatus(
            "fwd=stale",
            `ttl=${ttlOf(before.entry, now)}`,
            "detail=stale-while-revalidate"
          ),
          age: ageOf(before.entry, now)
        })
      }

      const { collapsed, value: fetched } = yield* fetch(noStore)
      if (fetched._tag === "Landed") {
        metrics.cacheEvent("hit-l2")
        metrics.cacheEvent("collapsed")
        return documentResponse(
          fetched.entry,
          hitHeaders(fetched.entry, yield* Clock.currentTimeMillis, "l2-wait")
        )
      }
      const value = fetched.value
      metrics.cacheEvent(collapsed ? "collapsed" : "miss")
      const forward = noCache ? "fwd=request" : before._tag === "Stale" ? "fwd=stale" : "fwd=miss"
      const result = value.result

      if (result._tag === "Document") {
        return documentResponse(result, {
          "cache-status": collapsed
            ? cacheStatus(forward, "collapsed")
            : cacheStatus(
                forward,
                value.stored ? "stored" : undefined,
                value.stored ? `ttl=${Math.floor(value.ttlMs / 1000)}` : undefined
              )
        })
      }

      const error = result.error
      const upstreamStatus = upstreamStatusOf(error)
      if (isUnavailable(error)) {
        const fallback = yield* cache.lookup(key)
        const now = yield* Clock.currentTimeMillis
        if (fallback._tag !== "Miss" && cache.servesOnError(fallback.entry, now)) {
          metrics.cacheEvent("stale")
          return documentResponse(fallback.entry, {
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
      return failureResponse(error, result.response, headers)
    })
})

export const ConversationsLive = HttpApiBuilder.group(GatewayApi, "conversations", (handlers) =>
  Effect.gen(function* () {
    const cache = yield* ResponseCache
    const serveCached = yield* makeCachedReads
    const upstream = yield* Upstream

    const served = handlers.handleRaw("getConversation", ({ path }) =>
      Effect.flatMap(Caller, (caller) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          serveCached(conversationRead(cache, upstream, caller, path, request.headers["cache-control"]))
        )
      )
    )
    return served.handle("purgeConversation", ({ path }) =>
      Effect.flatMap(Caller, (caller) =>
        Effect.map(cache.purge(cacheKey(caller.tenant, path.agentId, path.convoId)), (purged) => ({ purged }))
      )
    )
  })
)
