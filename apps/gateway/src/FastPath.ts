/**
 * Cache hits without the Effect HTTP stack: a synchronous check on the raw Node request that answers a
 * fresh hit at once, with the same bytes, headers, metrics and log line as the `HttpApi` route, and
 * otherwise declines so that the request takes the full path. It declines whenever anything is unusual
 * (another method, a query string, a refused or missing token, `Cache-Control` from the caller, a drain in
 * progress, no fresh entry), so it can only ever answer what the full path would have answered.
 *
 * Why: the full path costs a few hundred microseconds of CPU per request, most of it per-request fibers,
 * routing and middleware; a hit needs a map lookup and a write.
 */
import type * as Http from "node:http"
import { Either } from "effect"
import { makeAuthenticator } from "./CallerAuth.js"
import { ageOf, hitStatus, regionHeader } from "./Conversations.js"
import type { GatewaySettings } from "./GatewayConfig.js"
import type { RequestFields } from "./GatewayLogger.js"
import type { GatewayMetrics } from "./GatewayMetrics.js"
import { type Lifecycle, requestIdOf } from "./Lifecycle.js"
import { cacheKey, type ResponseCache } from "./ResponseCache.js"

export type FastPath = (request: Http.IncomingMessage, response: Http.ServerResponse) => boolean

const route = /^\/v3\/agents\/([^/?#]+)\/convos\/([^/?#]+)$/
const routeLabel = "/v3/agents/:agentId/convos/:convoId"

const decode = (segment: string): string | undefined => {
  // Ids are nearly always plain: they need no trip through the decoder.
  if (!segment.includes("%")) return segment
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

export interface FastPathDeps {
  readonly settings: GatewaySettings
  readonly cache: ResponseCache["Type"]
  readonly metrics: GatewayMetrics["Type"]
  readonly lifecycle: Lifecycle["Type"]
  /** Writes the request's log line, when request lines are logged at all. */
  readonly log: ((fields: RequestFields) => void) | undefined
  /** Counts the hit for telemetry, when it is on. */
  readonly recordHit?: (() => void) | undefined
}

export const make = ({ cache, lifecycle, log, metrics, recordHit, settings }: FastPathDeps): FastPath => {
  const authenticate = makeAuthenticator(settings)
  // With Redis there are two layers, and `Cache-Status` says this one (memory) answered.
  const layerDetail = cache.shared ? "l1" : undefined
  return (request, response) => {
    if (request.method !== "GET" || lifecycle.isDraining()) return false
    const url = request.url ?? ""
    const match = route.exec(url)
    if (match === null) return false
    const headers = request.headers
    const authorization = headers.authorization
    if (
      authorization === undefined ||
      !authorization.startsWith("Bearer ") ||
      headers["cache-control"] !== undefined
    )
      return false
    const caller = authenticate(authorization.slice(7))
    if (Either.isLeft(caller)) return false
    const agentId = decode(match[1] ?? "")
    const convoId = decode(match[2] ?? "")
    if (agentId === undefined || convoId === undefined) return false
    const started = performance.now()
    const now = Date.now()
    const found = cache.lookupNow(cacheKey(caller.right, agentId, convoId), now)
    if (found._tag !== "Fresh") return false

    const entry = found.entry
    const requestId = requestIdOf(
      typeof headers["x-request-id"] === "string" ? headers["x-request-id"] : undefined
    )
    const cacheStatus = hitStatus(entry, now, layerDetail)
    // The headers of `documentHeaders(entry, hitHeaders(entry, now))`, as Node's flat list (no object
    // spreads: building them was a tenth of a hit's cost).
    const out = [
      "cache-status",
      cacheStatus,
      "age",
      ageOf(entry, now),
      regionHeader,
      entry.region,
      "content-type",
      entry.contentType,
      "content-length",
      String(entry.body.byteLength),
      "x-request-id",
      requestId
    ]
    if (entry.upstreamRequestId !== undefined) out.push("x-upstream-request-id", entry.upstreamRequestId)
    response.writeHead(200, out)
    response.end(entry.body)
    const seconds = (performance.now() - started) / 1000
    metrics.hitServed(seconds)
    recordHit?.()
    log?.({
      requestId,
      method: "GET",
      route: routeLabel,
      path: url,
      status: 200,
      durationMs: Math.round(seconds * 10_000) / 10,
      cacheStatus,
      region: entry.region
    })
    return true
  }
}
