/**
 * A real stack for a test: the sandbox's EU and NA listeners on loopback ports, and the gateway in front
 * of them on a port of its own, both for the life of the test's scope. Requests go through the global
 * `fetch`, an unmodified raw client.
 */
import { ConvocoreConfig, type ConvocoreConfigInput } from "@convocore-effect/client"
import { Fixtures, Sandbox } from "@convocore-effect/sandbox"
import { Context, Effect, Either, HashMap, Layer, Logger, LogLevel } from "effect"
import { type RawSettings, validate } from "../../src/GatewayConfig.js"
import * as GatewayServer from "../../src/GatewayServer.js"

export const demoKey = Fixtures.demoApiKey
export const seedPath = `/v3/agents/${Fixtures.demoAgent}/convos/${Fixtures.ids.seedExample}`
export const conversationPath = (convoId: string, agentId: string = Fixtures.demoAgent) =>
  `/v3/agents/${encodeURIComponent(agentId)}/convos/${encodeURIComponent(convoId)}`

/** Settings as read from an environment that sets nothing. */
export const nothingSet: RawSettings = {
  port: undefined,
  host: undefined,
  auth: undefined,
  callerTokens: undefined,
  allowRoutes: undefined,
  cacheMaxEntries: undefined,
  cacheMaxBytes: undefined,
  cacheTtl: undefined,
  listCacheTtl: undefined,
  staleIfError: undefined,
  shutdownTimeout: undefined,
  headersTimeout: undefined,
  requestTimeout: undefined,
  keepAliveTimeout: undefined,
  maxRequestsPerSocket: undefined,
  maxConnections: undefined,
  sandbox: undefined,
  redisUrl: undefined,
  redisTimeout: undefined,
  staleWhileRevalidate: undefined,
  cacheLockTimeout: undefined,
  apiKeySet: false
}

const unset: RawSettings = { ...nothingSet, port: "0", host: "127.0.0.1" }

export interface StackOptions {
  readonly sandbox?: Sandbox.SandboxOptions
  readonly gateway?: Partial<RawSettings>
  /** The client's settings over test defaults (short backoff, so failover tests take no seconds). */
  readonly client?: Partial<ConvocoreConfigInput>
  /** Log request lines (at info) into the stack's `requestLines`, from the fast path and the full path alike. */
  readonly logRequests?: boolean
  /** Gateways in front of the one sandbox, as replicas of a fleet (default 1); with `redisUrl` they share it. */
  readonly replicas?: number
}

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly bytes: Uint8Array
  readonly text: string
  readonly json: () => unknown
}

export const fetchRaw = async (
  url: string,
  headers: Record<string, string> = {},
  init: RequestInit = {}
): Promise<Answer> => {
  const response = await fetch(url, { headers, ...init })
  const bytes = new Uint8Array(await response.arrayBuffer())
  const text = new TextDecoder().decode(bytes)
  return { status: response.status, headers: response.headers, bytes, text, json: () => JSON.parse(text) }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

export const startStack = (options: StackOptions = {}) =>
  Effect.gen(function* () {
    const sandboxContext = yield* Layer.build(
      Sandbox.layerListening({ ...options.sandbox, host: "127.0.0.1", port: 0 })
    )
    const sandbox = Context.get(sandboxContext, Sandbox.Sandbox)
    const listening = Context.get(sandboxContext, Sandbox.Listening)
    const settings = Either.getOrThrowWith(
      validate({ ...unset, ...options.gateway }),
      (problems) => new Error(problems.join("; "))
    )
    // Forward mode, as the gateway runs it: no key of its own, every call carries the caller's token.
    const client = yield* ConvocoreConfig.make(
      {
        euUrl: listening.urls.eu,
        naUrl: listening.urls.na,
        backoffBase: 5,
        backoffMax: 20,
        attemptTimeout: 3_000,
        deadline: 8_000,
        ...options.client
      },
      { keyRequired: false }
    )
    // Handler fibers inherit the logger settings of the fiber that starts the server: quiet by default.
    const requestLines: Array<Record<string, unknown>> = []
    const gateway = yield* options.logRequests === true
      ? GatewayServer.start(settings, client, {
          requestLog: (fields) => requestLines.push({ ...fields, via: "fast path" })
        }).pipe(
          Effect.provide(
            Logger.replace(
              Logger.defaultLogger,
              Logger.make(({ annotations, message }) => {
                const text = Array.isArray(message) ? message.join(" ") : String(message)
                if (text === "request")
                  requestLines.push({ ...Object.fromEntries(HashMap.toEntries(annotations)), via: "HttpApi" })
              })
            )
          ),
          Logger.withMinimumLogLevel(LogLevel.Info)
        )
      : GatewayServer.start(settings, client).pipe(
          Logger.withMinimumLogLevel(process.env.GATEWAY_TEST_LOGS === "1" ? LogLevel.Debug : LogLevel.None)
        )

    // More replicas: the same settings, over the same sandbox (and the same Redis, when one is set).
    const replicas = [gateway]
    for (let i = 1; i < (options.replicas ?? 1); i++)
      replicas.push(
        yield* GatewayServer.start(settings, client).pipe(
          Logger.withMinimumLogLevel(process.env.GATEWAY_TEST_LOGS === "1" ? LogLevel.Debug : LogLevel.None)
        )
      )

    /** Requests that reached either region of the sandbox. */
    const upstreamRequests = Effect.map(
      Effect.all([sandbox.counters("eu"), sandbox.counters("na")]),
      ([eu, na]) => eu.requests + na.requests
    )
    const get = (path: string, headers: Record<string, string> = {}) =>
      Effect.promise(() => fetchRaw(`${gateway.url}${path}`, headers))
    /** The same request straight to a sandbox region, bypassing the gateway. */
    const direct = (path: string, headers: Record<string, string> = {}, region: "eu" | "na" = "eu") =>
      Effect.promise(() => fetchRaw(`${listening.origins[region]}${path}`, headers))
    const setFaults = (faults: Partial<Record<"eu" | "na", string>>) =>
      Effect.forEach(
        ["eu", "na"] as const,
        (region) => {
          const spec = faults[region]
          return spec === undefined ? Effect.void : sandbox.setFaults(region, spec)
        },
        { discard: true }
      ).pipe(Effect.orDie)
    const metric = (name: string, labels = "") =>
      Effect.map(get("/metrics"), (answer) => metricValue(answer.text, name, labels))
    /** A request to the `index`th replica (0 is `gateway`). */
    const via = (index: number, path: string, init: RequestInit = {}) =>
      Effect.promise(() => fetchRaw(`${replicas[index]?.url}${path}`, {}, init))

    return {
      sandbox,
      listening,
      gateway,
      settings,
      client,
      upstreamRequests,
      get,
      direct,
      setFaults,
      metric,
      replicas,
      via,
      requestLines
    }
  })

/** A sample's value in Prometheus text; 0 when the series does not exist yet. */
export const metricValue = (text: string, name: string, labels = ""): number => {
  const prefix = labels === "" ? `${name} ` : `${name}{${labels}} `
  const line = text.split("\n").find((l) => l.startsWith(prefix))
  return line === undefined ? 0 : Number(line.slice(prefix.length))
}
