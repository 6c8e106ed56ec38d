/**
 * What an attempt's span says: OpenTelemetry's HTTP client attributes where they apply
 * (`http.request.method`, `server.address`, `server.port`, `url.path`, `http.response.status_code`,
 * `error.type`) and the client's own under `convocore.*` (region, attempt number, hedged, outcome,
 * retry-after, the region's breaker state after the attempt). No attribute carries a header, a query or
 * the key: only the request line's path, whose segments are ids.
 */
import type { Tracer } from "effect"
import type { AttemptResult } from "./AttemptResult.js"
import type { BreakerState } from "./CircuitBreaker.js"
import type { Target } from "./Trail.js"

/** Where a target's requests go, as the span reports it; read once per target from its base URL. */
export interface Endpoint {
  readonly address: string
  readonly port: number | undefined
  /** The base URL's path without a trailing slash (`/v3`), to which each call appends its own. */
  readonly basePath: string
}

export const endpointOf = (baseUrl: string): Endpoint => {
  const url = new URL(baseUrl)
  return {
    address: url.hostname,
    port: url.port === "" ? undefined : Number(url.port),
    basePath: url.pathname.replace(/\/+$/, "")
  }
}

export const startAttributes = (
  endpoint: Endpoint,
  path: string,
  target: Target,
  attempt: number,
  hedged: boolean
): Record<string, unknown> => ({
  "http.request.method": "GET",
  "server.address": endpoint.address,
  ...(endpoint.port === undefined ? {} : { "server.port": endpoint.port }),
  "url.path": `${endpoint.basePath}${path}`,
  "convocore.region": target,
  "convocore.attempt": attempt,
  "convocore.hedged": hedged
})

const breakerNames = { Closed: "closed", HalfOpen: "half-open", Open: "open" } as const

export const end = (span: Tracer.Span, result: AttemptResult<unknown>, breaker: BreakerState): void => {
  span.attribute("convocore.outcome", result._tag === "Succeeded" ? "ok" : result.outcome)
  if (result.response !== undefined) span.attribute("http.response.status_code", result.response.status)
  if (result._tag === "Failed") {
    span.attribute("error.type", result.outcome)
    if (result.retryAfterMs !== undefined) span.attribute("convocore.retry_after_ms", result.retryAfterMs)
  }
  span.attribute("convocore.breaker.state", breakerNames[breaker._tag])
}
