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
import { Clock, Effect, Exit, FiberId, Runtime } from "effect"
import { Caller, type CallerInfo, GatewayApi } from "./GatewayApi.js"
import { GatewayMetrics } from "./GatewayMetrics.js"
import {
  type CacheLayer,
  type Coalesced,
  cacheKey,
  type Entry,
  type Exclusive,
  type Lookup,
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

/**
 * An answer as data: the `HttpApi` routes make their response of it (`toResponse`), ./FastPath.ts writes
 * it to Node's response itself.
 */
export interface Answer {
  readonly status: number
  readonly contentType: string
  /** Every header but `content-type` and `content-length`. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

export const toResponse = (answer: Answer): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.uint8Array(answer.body, {
    status: answer.status,
    contentType: answer.contentType,
    headers: answer.headers
  })

const utf8 = new TextEncoder()

const jsonAnswer = (status: number, body: unknown, headers: Record<string, string>): Answer => ({
  status,
  contentType: "application/json",
  headers,
  body: utf8.encode(JSON.stringify(body))
})

const documentAnswer = (
  entry: Pick<Entry, "body" | "contentType" | "region" | "upstreamRequestId">,
  headers: Record<string, string>
): Answer => ({
  status: 200,
  contentType: entry.contentType,
  headers: documentHeaders(entry, headers),
  body: entry.body
})

/** The answer to a failure: the upstream's own error bytes when it gave them, else the gateway's body. */
const failureAnswer = (
  error: ConvocoreError,
  captured: Received | undefined,
  headers: Record<string, string>
): Answer => {
  const status = statusOf(error)
  // The upstream's own answer (401, 403, 404, 400, 429) goes back as it came: same status, same bytes.
  const passThrough = captured !== undefined && captured.status === status && status < 500
  const region = "region" in error && error.region !== undefined ? { [regionHeader]: error.region } : {}
  return passThrough
    ? {
        status,
        contentType: captured.headers["content-type"] ?? jsonType,
        headers: { ...headers, ...region },
        body: captured.body
      }
    : jsonAnswer(status, errorBody(error), { ...headers, ...region })
}

export const failureResponse = (
  error: ConvocoreError,
  captured: Received | undefined,
  headers: Record<string, string>
) => toResponse(failureAnswer(error, captured, headers))

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

export const ConversationsLive = HttpApiBuilder.group(GatewayApi, "conversations", (handlers) =>
  Effect.gen(function* () {
    const cache = yield* ResponseCache
    const reads = yield* makeCachedReads
    const upstream = yield* Upstream

    const served = handlers.handleRaw("getConversation", ({ path }) =>
      Effect.flatMap(Caller, (caller) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          reads.serve(conversationRead(cache, upstream, caller, path, request.headers["cache-control"]))
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
