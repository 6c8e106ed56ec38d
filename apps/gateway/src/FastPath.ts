/**
 * The conversation route without the Effect HTTP stack: a synchronous check on the raw Node request that
 * answers a fresh hit at once, with the same bytes, headers, metrics and log line as the `HttpApi` route,
 * and otherwise declines so that the request takes the full path. It declines whenever anything is
 * unusual (another method, a query string, a refused or missing token, `Cache-Control` from the caller, a
 * drain in progress), so it can only ever answer what the full path would have answered.
 *
 * With `miss` given, a request the cache cannot answer fresh gets the route's own answer
 * (./CachedReads.ts `serveNow`: cache layers, coalescing, the upstream call, storing, stale-if-error),
 * with what the full path's lifecycle adds around it (request id, in-flight count, metrics, log line, the
 * 401's `www-authenticate`, `connection: close` during a drain), and writes it.
 *
 * Why: the full path costs a few hundred microseconds of CPU per request, most of it per-request fibers,
 * routing and middleware (bench/gateway.bench.ts); a hit needs a map lookup and a write, a miss the
 * upstream call, whose fiber is, for a document answered without a shared cache, the only one the
 * gateway adds to the client's (with Redis, the answer runs in a fiber of its own).
 */
import type * as Http from "node:http"
import { Cause, Effect, Either, Exit, FiberId, Redacted, Runtime } from "effect"
import { type Answer, ageOf, hitStatus, regionHeader } from "./Answers.js"
import { makeAuthenticator } from "./CallerAuth.js"
import type { CallerInfo } from "./GatewayApi.js"
import type { GatewaySettings } from "./GatewayConfig.js"
import type { RequestFields } from "./GatewayLogger.js"
import { conversationRouteLabel, type GatewayMetrics } from "./GatewayMetrics.js"
import { currentRequestId, type Lifecycle, requestIdOf } from "./Lifecycle.js"
import { cacheKey, type ResponseCache } from "./ResponseCache.js"

export type FastPath = (request: Http.IncomingMessage, response: Http.ServerResponse) => boolean

const route = /^\/v3\/agents\/([^/?#]+)\/convos\/([^/?#]+)$/

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
  /** Answers misses too (the module's comment); the full path takes them when undefined. */
  readonly miss?: MissDeps | undefined
}

export interface MissDeps {
  /**
   * The conversation route's answer (./Conversations.ts `conversationRead`, served by ./CachedReads.ts
   * `serveNow`), made on `runtime`; returns what stops waiting for it.
   */
  readonly answer: (
    caller: CallerInfo,
    path: { readonly agentId: string; readonly convoId: string },
    runtime: Runtime.Runtime<never>,
    onAnswer: (answer: Exit.Exit<Answer>) => void
  ) => () => void
  /** The server's runtime, whose logger and settings the full path has too. */
  readonly runtime: Runtime.Runtime<never>
  /** Keeps the response among those a drain cut short answers with a 503. */
  readonly track: (response: Http.ServerResponse) => void
}

export const make = ({
  cache,
  lifecycle,
  log,
  metrics,
  miss,
  recordHit,
  settings
}: FastPathDeps): FastPath => {
  const authenticate = makeAuthenticator(settings)
  // With Redis there are two layers, and `Cache-Status` says this one (memory) answered.
  const layerDetail = cache.shared ? "l1" : undefined

  const answerMiss = (
    { answer, runtime, track }: MissDeps,
    response: Http.ServerResponse,
    call: {
      readonly started: number
      readonly url: string
      readonly requestId: string
      readonly caller: CallerInfo
      readonly path: { readonly agentId: string; readonly convoId: string }
    }
  ) => {
    track(response)
    lifecycle.enterNow()
    let waiting = true
    const write = (answer: Answer) => {
      const out = [
        "content-type",
        answer.contentType,
        "content-length",
        String(answer.body.byteLength),
        "x-request-id",
        call.requestId
      ]
      for (const name in answer.headers) out.push(name, answer.headers[name] as string)
      if (answer.status === 401 && answer.headers["www-authenticate"] === undefined)
        out.push("www-authenticate", 'Bearer realm="convocore-gateway"')
      // Connections left open during a drain would keep the listener from closing.
      if (lifecycle.isDraining()) out.push("connection", "close")
      if (!response.writableEnded) {
        response.writeHead(answer.status, out)
        response.end(answer.body)
      }
      const seconds = (performance.now() - call.started) / 1000
      metrics.request(conversationRouteLabel, "GET", answer.status, seconds)
      const cacheStatus = answer.headers["cache-status"]
      const region = answer.headers[regionHeader]
      log?.({
        requestId: call.requestId,
        method: "GET",
        route: conversationRouteLabel,
        path: call.url,
        status: answer.status,
        durationMs: Math.round(seconds * 10_000) / 10,
        ...(cacheStatus === undefined ? {} : { cacheStatus }),
        ...(region === undefined ? {} : { region })
      })
    }
    const failed = (cause: Cause.Cause<unknown>) => {
      if (!response.headersSent) {
        // Explicit: a refused `writeHead` may have kept the refused answer's length.
        response.writeHead(500, { "x-request-id": call.requestId, "content-length": "0" })
        response.end()
      } else if (!response.writableEnded) response.destroy()
      metrics.request(conversationRouteLabel, "GET", 500, (performance.now() - call.started) / 1000)
      if (!Cause.isInterruptedOnly(cause))
        Runtime.runFork(runtime)(
          Effect.logError("Request failed", cause).pipe(Effect.annotateLogs({ requestId: call.requestId }))
        )
    }
    // Runs outside any fiber (in Node's request event, or as the call's fiber ends): a throw here, from
    // writing an answer Node refuses say, is this request's 500, as a defect in a fiber would be.
    const settle = (answer: Exit.Exit<Answer>) => {
      if (!waiting) return
      waiting = false
      lifecycle.leaveNow()
      if (Exit.isFailure(answer)) return failed(answer.cause)
      try {
        write(answer.value)
      } catch (error) {
        failed(Cause.die(error))
      }
    }
    let stop = () => {}
    try {
      // The request id goes with the upstream call, as the full path's does (./Lifecycle.ts).
      stop = answer(
        call.caller,
        call.path,
        Runtime.setFiberRef(runtime, currentRequestId, call.requestId),
        settle
      )
    } catch (error) {
      settle(Exit.die(error))
    }
    response.once("close", () => {
      if (waiting && !response.writableEnded) {
        stop()
        settle(Exit.interrupt(FiberId.none))
      }
    })
  }

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
    if (found._tag !== "Fresh") {
      if (miss === undefined) return false
      answerMiss(miss, response, {
        started,
        url,
        requestId: requestIdOf(
          typeof headers["x-request-id"] === "string" ? headers["x-request-id"] : undefined
        ),
        caller: {
          upstreamToken: settings.auth === "forward" ? Redacted.make(authorization.slice(7)) : undefined,
          tenant: caller.right
        },
        path: { agentId, convoId }
      })
      return true
    }

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
      route: conversationRouteLabel,
      path: url,
      status: 200,
      durationMs: Math.round(seconds * 10_000) / 10,
      cacheStatus,
      region: entry.region
    })
    return true
  }
}
