/**
 * What the gateway answers, as data (`Answer`): documents with the upstream's exact bytes and the
 * gateway's headers (RFC 9211 `Cache-Status`, the serving region), and failures with the upstream's own
 * error bytes or the gateway's body and status. The `HttpApi` routes make their responses of it
 * (`toResponse`); ./FastPath.ts writes it to Node's response itself.
 */
import type { Received } from "@convocore-effect/client"
import type { ConvocoreError } from "@convocore-effect/schema"
import { HttpServerResponse } from "@effect/platform"
import type { Entry } from "./ResponseCache.js"
import type { RegionHealth } from "./Upstream.js"

export const cacheName = "convocore-gateway"
export const regionHeader = "x-convocore-region"

const jsonType = "application/json; charset=utf-8"

/** Failures a cached copy may stand in for: the upstream could not answer; not its authoritative "no". */
export const isUnavailable = (error: ConvocoreError): boolean => {
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

export const upstreamStatusOf = (error: ConvocoreError): number | undefined => {
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

export const cacheStatus = (...parameters: ReadonlyArray<string | undefined>) =>
  [cacheName, ...parameters.filter((p): p is string => p !== undefined)].join("; ")

export const ageOf = (entry: Entry, now: number) =>
  String(Math.max(0, Math.floor((now - entry.storedAt) / 1000)))

export const ttlOf = (entry: Entry, now: number) => Math.floor((entry.expiresAt - now) / 1000)

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

export const jsonAnswer = (status: number, body: unknown, headers: Record<string, string>): Answer => ({
  status,
  contentType: "application/json",
  headers,
  body: utf8.encode(JSON.stringify(body))
})

export const documentAnswer = (
  entry: Pick<Entry, "body" | "contentType" | "region" | "upstreamRequestId">,
  headers: Record<string, string>
): Answer => ({
  status: 200,
  contentType: entry.contentType,
  headers: documentHeaders(entry, headers),
  body: entry.body
})

/** The answer to a failure: the upstream's own error bytes when it gave them, else the gateway's body. */
export const failureAnswer = (
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
