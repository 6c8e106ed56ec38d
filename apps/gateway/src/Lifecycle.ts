/**
 * What wraps every request, whatever its route: a request id (the caller's `x-request-id` if it sent a
 * sane one), one structured log line, the request metrics, the upstream-shaped 404 for unknown routes,
 * and the drain that graceful shutdown needs: once draining, requests still arriving on open connections
 * are answered 503 with `connection: close`, and the requests in flight are counted so that shutdown can
 * wait for them.
 */

import { randomUUID } from "node:crypto"
import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Context, type Duration, Effect, FiberRef, Layer } from "effect"
import { conversationRouteLabel, GatewayMetrics } from "./GatewayMetrics.js"
import * as RequestTelemetry from "./RequestTelemetry.js"

export class Lifecycle extends Context.Tag("@convocore-effect/gateway/Lifecycle")<
  Lifecycle,
  {
    readonly isDraining: () => boolean
    readonly startDraining: Effect.Effect<void>
    readonly inFlight: () => number
    readonly enter: Effect.Effect<void>
    readonly leave: Effect.Effect<void>
    /** `enter` and `leave` for a request answered outside any fiber (./FastPath.ts). */
    readonly enterNow: () => void
    readonly leaveNow: () => void
    /** Waits until no request is in flight, or `timeout` passes; returns how many were still running. */
    readonly awaitIdle: (timeout: Duration.DurationInput) => Effect.Effect<number>
  }
>() {
  static readonly layer = Layer.sync(Lifecycle, () => {
    let draining = false
    let inFlight = 0
    const enterNow = () => {
      inFlight++
    }
    const leaveNow = () => {
      inFlight--
    }
    const idleLoop: Effect.Effect<void> = Effect.suspend(() =>
      inFlight === 0 ? Effect.void : Effect.zipRight(Effect.sleep(10), idleLoop)
    )
    return {
      isDraining: () => draining,
      startDraining: Effect.sync(() => {
        draining = true
      }),
      inFlight: () => inFlight,
      enter: Effect.sync(enterNow),
      leave: Effect.sync(leaveNow),
      enterNow,
      leaveNow,
      awaitIdle: (timeout) =>
        idleLoop.pipe(
          Effect.timeoutOption(timeout),
          Effect.map(() => inFlight)
        )
    }
  })
}

/** The id of the request being answered, for whatever it calls (the upstream gets it as `x-request-id`). */
export const currentRequestId = FiberRef.unsafeMake<string | undefined>(undefined)

export const conversationRoute = /^\/v3\/agents\/[^/]+\/convos\/[^/]+\/?$/
export const listRoute = /^\/v3\/agents\/[^/]+\/convos\/?$/
export const purgeRoute = /^\/cache\/v3\/agents\/[^/]+\/convos\/[^/]+\/?$/

/** Whether a request goes to the upstream as it is: every `/v3` route but the GETs the gateway caches. */
export const passesThrough = (method: string, path: string): boolean =>
  path.startsWith("/v3/") && !(method === "GET" && (conversationRoute.test(path) || listRoute.test(path)))

/** The route template a path belongs to: a bounded label set for metrics. */
export const routeOf = (path: string): string => {
  if (conversationRoute.test(path)) return conversationRouteLabel
  if (listRoute.test(path)) return "/v3/agents/:agentId/convos"
  if (purgeRoute.test(path)) return "/cache/v3/agents/:agentId/convos/:convoId"
  if (path === "/healthz" || path === "/readyz" || path === "/metrics" || path === "/openapi.json")
    return path
  if (path === "/docs" || path.startsWith("/docs/")) return "/docs"
  if (path.startsWith("/v3/")) return "pass-through"
  return "unmatched"
}

const saneRequestId = /^[\w.:@/+=-]{1,128}$/

/** The caller's `x-request-id` when it is a sane one, else a new UUID. */
export const requestIdOf = (incoming: string | undefined): string =>
  incoming !== undefined && saneRequestId.test(incoming) ? incoming : randomUUID()

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers })

/** A path as an answer may quote it: a long one is cut, so that a refusal never echoes a whole request. */
const quoted = (path: string) =>
  path.length <= 120 ? path : `${path.slice(0, 120)}... (${path.length} characters)`

/** The upstream host's answer for a route it does not have, and its answer for a wrong method. */
const routeNotFound = (method: string, path: string) => {
  if (!conversationRoute.test(path))
    return json(404, { error: { code: "NOT_FOUND", message: `Route ${method} ${quoted(path)} not found` } })
  // The route's shape (other methods on it pass through to the upstream), yet the router matched nothing: its segments are not valid percent-encoding.
  return json(400, {
    message: "The agent or conversation id is not valid percent-encoding",
    code: "BAD_REQUEST",
    issues: [{ message: "not valid percent-encoding (RFC 3986)" }]
  })
}

/**
 * The middleware the server applies around the whole `HttpApi` app. The platform writes the app's response
 * before a middleware gets it back, so headers and the 404 body are set in a pre-response handler.
 */
export const requestLifecycle = <R>(
  app: HttpApp.Default<never, R>
): HttpApp.Default<never, Lifecycle | GatewayMetrics | R> =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const lifecycle = yield* Lifecycle
    const metrics = yield* GatewayMetrics
    const started = performance.now()
    const requestId = requestIdOf(request.headers["x-request-id"])
    const queryAt = request.url.indexOf("?")
    const path = queryAt === -1 ? request.url : request.url.slice(0, queryAt)
    const route = routeOf(path)

    let final: HttpServerResponse.HttpServerResponse
    if (lifecycle.isDraining()) {
      final = json(
        503,
        { message: "The gateway is shutting down; retry on another instance", code: "SERVICE_UNAVAILABLE" },
        { "retry-after": "1", connection: "close", "x-request-id": requestId }
      )
    } else {
      final = HttpServerResponse.empty({ status: 500 })
      yield* lifecycle.enter
      let finished = false
      const finish = (response: HttpServerResponse.HttpServerResponse) => {
        // The router's own 404 (no route, or no such method on a route) has no body.
        let answer =
          response.status === 404 && response.body._tag === "Empty"
            ? routeNotFound(request.method, path)
            : response
        answer = HttpServerResponse.setHeader(answer, "x-request-id", requestId)
        if (answer.status === 401 && answer.headers["www-authenticate"] === undefined)
          answer = HttpServerResponse.setHeader(
            answer,
            "www-authenticate",
            'Bearer realm="convocore-gateway"'
          )
        // Connections left open during a drain would keep the listener from closing.
        if (lifecycle.isDraining()) answer = HttpServerResponse.setHeader(answer, "connection", "close")
        final = answer
        finished = true
        return answer
      }
      // The `HttpApi` router writes its answers itself, before returning: they are finished on the way out.
      yield* HttpApp.appendPreResponseHandler((_, response) => Effect.sync(() => finish(response)))
      const returned = yield* app.pipe(
        Effect.locally(currentRequestId, requestId),
        Effect.catchAllCause((cause) =>
          Effect.as(
            Cause.isInterruptedOnly(cause) || final.status !== 500
              ? Effect.void
              : Effect.logError("Request failed", cause).pipe(Effect.annotateLogs({ requestId })),
            undefined
          )
        ),
        Effect.ensuring(lifecycle.leave)
      )
      // An answer made outside the router (the pass-through) is finished here.
      if (!finished && returned !== undefined) finish(returned)
    }
    const seconds = (performance.now() - started) / 1000
    metrics.request(route, request.method, final.status, seconds)
    const headers = final.headers
    yield* RequestTelemetry.annotate(route, headers)
    yield* Effect.logInfo("request").pipe(
      Effect.annotateLogs({
        requestId,
        method: request.method,
        route,
        path,
        status: final.status,
        durationMs: Math.round(seconds * 10_000) / 10,
        ...(headers["cache-status"] === undefined ? {} : { cacheStatus: headers["cache-status"] }),
        ...(headers["x-convocore-region"] === undefined ? {} : { region: headers["x-convocore-region"] })
      })
    )
    return final
  })
