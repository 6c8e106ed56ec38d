/**
 * The gateway assembled: the `HttpApi` with its handlers, `/openapi.json` and `/docs`, the per-request
 * lifecycle, the cache and the upstream stack, served by a Node `http.Server` that this module keeps a
 * handle on, so that shutdown can stop accepting connections first and close the rest last.
 */

import * as Http from "node:http"
import type { ConvocoreSettings } from "@convocore-effect/client"
import * as ClientMetrics from "@convocore-effect/client/ClientMetrics"
import {
  HttpApiBuilder,
  HttpApiSwagger,
  HttpRouter,
  HttpServer,
  type HttpServerError
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  FiberRef,
  Layer,
  LogLevel,
  Runtime,
  type Scope
} from "effect"
import { makeCachedReads } from "./CachedReads.js"
import { AuthorizationLive } from "./CallerAuth.js"
import { ConversationsLive, conversationRead } from "./Conversations.js"
import * as FastPath from "./FastPath.js"
import { GatewayApi } from "./GatewayApi.js"
import { GatewayConfig, type GatewaySettings } from "./GatewayConfig.js"
import type * as GatewayLogger from "./GatewayLogger.js"
import { GatewayMetrics } from "./GatewayMetrics.js"
import { Lifecycle, requestLifecycle } from "./Lifecycle.js"
import { ListPagesLive } from "./ListPages.js"
import { OperationsLive } from "./Operations.js"
import * as PassThrough from "./PassThrough.js"
import { PassThrough as PassThroughService } from "./PassThrough.js"
import { RedisConnection } from "./RedisConnection.js"
import * as RedisSharedCache from "./RedisSharedCache.js"
import * as RequestTelemetry from "./RequestTelemetry.js"
import { ResponseCache } from "./ResponseCache.js"
import { Upstream } from "./Upstream.js"

/**
 * The Node server, with three additions:
 * - each request first meets the fast path of the conversation route (./FastPath.ts); only what it
 *   declines is emitted to the Effect handler the platform installed;
 * - it keeps the responses still being written, so that a drain cut short answers them with a 503
 *   instead of resetting their connections;
 * - while `holdIdleConnections` is set, `close()` leaves idle keep-alive connections open (Node closes them
 *   at once), so that a request sent on one just after the signal gets the drain's 503, not a reset.
 */
export class GatewayHttpServer extends Http.Server {
  fastPath: FastPath.FastPath | undefined = undefined
  holdIdleConnections = false
  readonly unanswered = new Set<Http.ServerResponse>()

  override closeIdleConnections(): void {
    if (!this.holdIdleConnections) super.closeIdleConnections()
  }

  /** Answers every response not yet started with a 503 (the drain's timeout is over); returns how many. */
  answerUnanswered(): number {
    let answered = 0
    for (const response of this.unanswered) {
      if (response.headersSent || response.writableEnded) continue
      const body = JSON.stringify({
        message: "The gateway stopped before this request was answered; retry on another instance",
        code: "SERVICE_UNAVAILABLE"
      })
      response.writeHead(503, { "content-type": "application/json", "retry-after": "1", connection: "close" })
      response.end(body)
      answered++
    }
    return answered
  }

  // `emit` is typed per event by overloads (the last takes `string | symbol`, hence the cast below to reach
  // it); only "request" is intercepted, everything else passes as is.
  override emit(event: string | symbol, ...args: Array<unknown>): boolean {
    if (event === "request") {
      // The "request" event's arguments, as Node documents them.
      const [request, response] = args as [Http.IncomingMessage, Http.ServerResponse]
      if (this.fastPath?.(request, response) === true) return true
      this.track(response)
    }
    return super.emit(event as string, ...args)
  }

  /** Counts `response` among those a drain cut short must answer, until it closes. */
  track(response: Http.ServerResponse): void {
    this.unanswered.add(response)
    response.once("close", () => this.unanswered.delete(response))
  }
}

const ApiLive = HttpApiBuilder.api(GatewayApi).pipe(
  Layer.provide([ConversationsLive, ListPagesLive, OperationsLive]),
  Layer.provide(AuthorizationLive)
)

/**
 * Everything but the listener, over a given `Upstream` (the real one is `Upstream.layer(settings)`):
 * what a test composes with another upstream.
 */
export const layerWith = <E>(
  settings: GatewaySettings,
  upstream: Layer.Layer<Upstream, E, GatewayMetrics | GatewayConfig>,
  server: Http.Server
) => {
  // One connection for every part that shares state through Redis: one layer value, so built once.
  const redis = settings.redis === undefined ? undefined : RedisConnection.layer(settings.redis)
  const services = Layer.mergeAll(
    ResponseCache.layer.pipe(Layer.provide(sharedCacheOf(redis))),
    Lifecycle.layer,
    PassThroughService.layer
  ).pipe(
    Layer.provideMerge(upstream),
    Layer.provideMerge(GatewayMetrics.layer),
    Layer.provideMerge(GatewayConfig.layer(settings)),
    // The upstream budget finds the connection here (none without GATEWAY_REDIS_URL).
    Layer.provideMerge(redis ?? Layer.empty)
  )
  return HttpApiBuilder.serve((app) => requestLifecycle(PassThrough.around(app))).pipe(
    // Ids of up to 512 characters, percent-encoded, are longer than the router's default limit of 100; Node
    // refuses request lines past 16 KB before the router sees them, and the route validates the ids.
    Layer.provide(HttpRouter.setRouterConfig({ maxParamLength: 16 * 1024 })),
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(ApiLive),
    Layer.provideMerge(services),
    Layer.provideMerge(NodeHttpServer.layer(() => server, { port: settings.port, host: settings.host }))
  )
}

/**
 * The cache the replicas share: on Redis when `GATEWAY_REDIS_URL` is set, else none (the response cache
 * looks for it with `serviceOption`, hence the `never` output).
 */
export const sharedCacheOf = (redis: Layer.Layer<RedisConnection> | undefined): Layer.Layer<never> =>
  redis === undefined ? Layer.empty : RedisSharedCache.layer.pipe(Layer.provide(redis))

export interface RunningGateway {
  /** `http://host:port`, the base of every route; Convocore clients use `${url}/v3`. */
  readonly url: string
  readonly port: number
  /**
   * Graceful shutdown, first half: stop accepting connections, answer 503 to requests arriving on open
   * ones, and wait for the requests in flight (at most `timeout`). Returns how many were cut short.
   * Closing the scope afterwards releases everything else.
   */
  readonly drain: (timeout?: Duration.DurationInput) => Effect.Effect<number>
  readonly context: Context.Context<Lifecycle | GatewayMetrics | ResponseCache | Upstream>
}

export interface StartOptions {
  /**
   * Writes the log line of a request answered by the fast path. By default it goes through Effect's
   * logger (as every other line does); the binary passes a direct writer of the same JSON line, which
   * costs a fraction of that on the hot path.
   */
  readonly requestLog?: ((fields: GatewayLogger.RequestFields) => void) | undefined
}

/** Starts the gateway for the life of the scope, over the real upstream stack. */
export const start = (settings: GatewaySettings, client: ConvocoreSettings, options: StartOptions = {}) =>
  startWith(settings, Upstream.layer(client), options)

export const startWith = <E>(
  settings: GatewaySettings,
  upstream: Layer.Layer<Upstream, E, GatewayMetrics | GatewayConfig>,
  options: StartOptions = {}
): Effect.Effect<RunningGateway, E | HttpServerError.ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const limits = settings.connections
    // Node checks the headers and request deadlines only every `connectionsCheckingInterval` (30 s by
    // default); a second keeps a connection dribbling its headers from outliving its deadline by much.
    const server = new GatewayHttpServer({
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs)
    })
    server.maxRequestsPerSocket = limits.maxRequestsPerSocket
    server.maxConnections = limits.maxConnections
    const context = yield* Layer.build(layerWith(settings, upstream, server))
    const runtime = yield* Effect.runtime<never>()
    const telemetry = yield* FiberRef.get(ClientMetrics.enabled)
    const reads = yield* Effect.provide(makeCachedReads, context)
    const cache = Context.get(context, ResponseCache)
    const upstreamService = Context.get(context, Upstream)
    const logRequests = LogLevel.lessThanEqual(
      yield* FiberRef.get(FiberRef.currentMinimumLogLevel),
      LogLevel.Info
    )
    server.fastPath = FastPath.make({
      settings,
      cache: Context.get(context, ResponseCache),
      metrics: Context.get(context, GatewayMetrics),
      lifecycle: Context.get(context, Lifecycle),
      recordHit: telemetry ? RequestTelemetry.recordHit : undefined,
      // With telemetry on, misses take the full path: the platform's request span parents the upstream call.
      miss: telemetry
        ? undefined
        : {
            answer: (caller, path, runtime, onAnswer) =>
              reads.serveNow(
                conversationRead(cache, upstreamService, caller, path, undefined),
                runtime,
                onAnswer
              ),
            runtime,
            track: (response) => server.track(response)
          },
      log: !logRequests
        ? undefined
        : (options.requestLog ??
          ((fields) => Runtime.runSync(runtime, Effect.annotateLogs(Effect.logInfo("request"), fields))))
    })
    const address = Context.get(context, HttpServer.HttpServer).address
    const port = address._tag === "TcpAddress" ? address.port : 0
    const host = settings.host === "0.0.0.0" || settings.host === "::" ? "127.0.0.1" : settings.host
    const lifecycle = Context.get(context, Lifecycle)
    const drain = (timeout: Duration.DurationInput = Duration.millis(settings.shutdownTimeoutMs)) =>
      Effect.gen(function* () {
        yield* lifecycle.startDraining
        // Stops accepting; idle keep-alive connections stay open for now, so that a request already on
        // its way on one is answered (503, `connection: close`) rather than reset. The callback runs once
        // every connection has ended.
        const closed = yield* Deferred.make<void>()
        server.holdIdleConnections = true
        server.close(() => Deferred.unsafeDone(closed, Exit.void))
        const left = yield* lifecycle.awaitIdle(timeout)
        // Callers still waiting when the time is up get a 503 rather than a reset connection.
        if (left > 0) server.answerUnanswered()
        // Answers given during the drain close their connections themselves (`connection: close`) once
        // written; the idle ones are closed here. A short grace lets the last bytes go out before anything
        // still open is cut.
        server.holdIdleConnections = false
        server.closeIdleConnections()
        yield* Effect.timeoutOption(Deferred.await(closed), Duration.seconds(2))
        server.closeAllConnections()
        return left
      })
    return {
      url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
      port,
      drain,
      context: Context.pick(Lifecycle, GatewayMetrics, ResponseCache, Upstream)(context)
    }
  })
