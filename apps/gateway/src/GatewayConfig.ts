/**
 * The gateway's own configuration, read from the environment (or any `ConfigProvider`) and validated as a
 * whole at start: every problem is reported at once, each naming the variable it concerns. The upstream
 * settings (key, region, URLs, timeouts, breaker) are the client's: read by @convocore-effect/client from
 * the same variables the CLI uses.
 */
import { Excerpt, parseDurationMillis } from "@convocore-effect/schema"
import { ConfigError, Context, Data, Effect, Either, Layer, Option, Redacted } from "effect"
import * as Config from "effect/Config"

/**
 * - `forward`: the caller's bearer token is forwarded upstream; the cache is keyed by a hash of it.
 * - `own-key`: the gateway calls Convocore with its own key and accepts only the configured caller tokens.
 */
export type AuthMode = "forward" | "own-key"

/** A route the gateway passes on in own-key mode: a method (or `*`) and a path where `*` is one segment. */
export interface RoutePattern {
  readonly method: string
  readonly path: string
}

/** Own-key mode passes on only the read routes the gateway serves, unless `GATEWAY_ALLOW_ROUTES` says more. */
export const servedReadRoutes: ReadonlyArray<RoutePattern> = [{ method: "GET", path: "/v3/agents/*/convos" }]

export interface GatewaySettings {
  readonly host: string
  readonly port: number
  readonly auth: AuthMode
  /** Accepted caller tokens (own-key mode only). */
  readonly callerTokens: ReadonlyArray<Redacted.Redacted<string>>
  /** Own-key mode: the routes beyond the conversation route that are passed on with the gateway's key. */
  readonly allowRoutes: ReadonlyArray<RoutePattern>
  readonly cache: {
    readonly maxEntries: number
    readonly maxBytes: number
    /** How long a stored document is served without asking upstream; 0 stores nothing. */
    readonly ttlMs: number
    /** How long a stored page of an agent's conversation list is served without asking upstream; 0 stores none. */
    readonly listTtlMs: number
    /** How long past its TTL a document may still be served when every region fails; 0 never. */
    readonly staleIfErrorMs: number
    /** How long past its TTL a document is served at once while one replica refreshes it; 0 never. */
    readonly staleWhileRevalidateMs: number
    /** With Redis: how long a miss waits for another replica's call for the same key before calling itself. */
    readonly lockTimeoutMs: number
  }
  /** On SIGTERM, how long in-flight requests may take before the process exits anyway. */
  readonly shutdownTimeoutMs: number
  /** What a connection may take, so that slow or abusive clients cannot hold the gateway. */
  readonly connections: {
    /** A request's headers must arrive within this; a connection dribbling them is cut. */
    readonly headersTimeoutMs: number
    /** A whole request (headers and body) must arrive within this. */
    readonly requestTimeoutMs: number
    /** An idle kept-alive connection is closed after this. */
    readonly keepAliveTimeoutMs: number
    /** Requests served on one connection before it is closed; 0: no limit. */
    readonly maxRequestsPerSocket: number
    /** Open connections at most; past it a new connection is closed at once. */
    readonly maxConnections: number
  }
  /** Start the sandbox's EU and NA listeners in-process and use them as upstream (demo mode). */
  readonly sandbox: boolean
  /** The Redis that replicas share (cache, coalescing, upstream budget); none: every replica on its own. */
  readonly redis: RedisSettings | undefined
}

export interface RedisSettings {
  /** `redis://` or `rediss://` (TLS), with any password; redacted, since it may hold one. */
  readonly url: Redacted.Redacted<string>
  /** The URL without user or password, for logs and errors. */
  readonly location: string
  /** Every Redis command is bounded by this, so a slow Redis slows no request by more. */
  readonly commandTimeoutMs: number
}

export const defaults = {
  host: "0.0.0.0",
  port: 8080,
  cacheMaxEntries: 10_000,
  cacheMaxBytes: 128 * 1024 * 1024,
  cacheTtlMs: 30_000,
  listCacheTtlMs: 5_000,
  staleIfErrorMs: 5 * 60_000,
  shutdownTimeoutMs: 25_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
  maxConnections: 4_096,
  redisCommandTimeoutMs: 250,
  staleWhileRevalidateMs: 0,
  cacheLockTimeoutMs: 3_000
} as const

/** Every variable the gateway itself reads, for `--help`, the README and error messages. */
export const variables = {
  port: "PORT",
  host: "HOST",
  auth: "GATEWAY_AUTH",
  callerTokens: "GATEWAY_CALLER_TOKENS",
  allowRoutes: "GATEWAY_ALLOW_ROUTES",
  cacheMaxEntries: "GATEWAY_CACHE_MAX_ENTRIES",
  cacheMaxBytes: "GATEWAY_CACHE_MAX_BYTES",
  cacheTtl: "GATEWAY_CACHE_TTL",
  listCacheTtl: "GATEWAY_LIST_CACHE_TTL",
  staleIfError: "GATEWAY_STALE_IF_ERROR",
  shutdownTimeout: "GATEWAY_SHUTDOWN_TIMEOUT",
  headersTimeout: "GATEWAY_HEADERS_TIMEOUT",
  requestTimeout: "GATEWAY_REQUEST_TIMEOUT",
  keepAliveTimeout: "GATEWAY_KEEP_ALIVE_TIMEOUT",
  maxRequestsPerSocket: "GATEWAY_MAX_REQUESTS_PER_CONNECTION",
  maxConnections: "GATEWAY_MAX_CONNECTIONS",
  sandbox: "GATEWAY_SANDBOX",
  redisUrl: "GATEWAY_REDIS_URL",
  redisTimeout: "GATEWAY_REDIS_TIMEOUT",
  staleWhileRevalidate: "GATEWAY_STALE_WHILE_REVALIDATE",
  cacheLockTimeout: "GATEWAY_CACHE_LOCK_TIMEOUT",
  apiKey: "CONVOCORE_API_KEY"
} as const

/** Below this length a caller token is guessable; refusing it keeps own-key mode from being open in effect. */
export const minCallerTokenLength = 16

/** The variables as strings, before validation. */
export interface RawSettings {
  readonly port: string | undefined
  readonly host: string | undefined
  readonly auth: string | undefined
  readonly callerTokens: Redacted.Redacted<string> | undefined
  readonly allowRoutes: string | undefined
  readonly cacheMaxEntries: string | undefined
  readonly cacheMaxBytes: string | undefined
  readonly cacheTtl: string | undefined
  readonly listCacheTtl: string | undefined
  readonly staleIfError: string | undefined
  readonly shutdownTimeout: string | undefined
  readonly headersTimeout: string | undefined
  readonly requestTimeout: string | undefined
  readonly keepAliveTimeout: string | undefined
  readonly maxRequestsPerSocket: string | undefined
  readonly maxConnections: string | undefined
  readonly sandbox: string | undefined
  readonly redisUrl: Redacted.Redacted<string> | undefined
  readonly redisTimeout: string | undefined
  readonly staleWhileRevalidate: string | undefined
  readonly cacheLockTimeout: string | undefined
  /** Only whether it is set matters here; the client reads its value. */
  readonly apiKeySet: boolean
}

const optionalString = (name: string) => Config.map(Config.option(Config.string(name)), Option.getOrUndefined)

export const raw: Config.Config<RawSettings> = Config.all({
  port: optionalString(variables.port),
  host: optionalString(variables.host),
  auth: optionalString(variables.auth),
  callerTokens: Config.map(Config.option(Config.redacted(variables.callerTokens)), Option.getOrUndefined),
  allowRoutes: optionalString(variables.allowRoutes),
  cacheMaxEntries: optionalString(variables.cacheMaxEntries),
  cacheMaxBytes: optionalString(variables.cacheMaxBytes),
  cacheTtl: optionalString(variables.cacheTtl),
  listCacheTtl: optionalString(variables.listCacheTtl),
  staleIfError: optionalString(variables.staleIfError),
  shutdownTimeout: optionalString(variables.shutdownTimeout),
  headersTimeout: optionalString(variables.headersTimeout),
  requestTimeout: optionalString(variables.requestTimeout),
  keepAliveTimeout: optionalString(variables.keepAliveTimeout),
  maxRequestsPerSocket: optionalString(variables.maxRequestsPerSocket),
  maxConnections: optionalString(variables.maxConnections),
  sandbox: optionalString(variables.sandbox),
  redisUrl: Config.map(Config.option(Config.redacted(variables.redisUrl)), Option.getOrUndefined),
  redisTimeout: optionalString(variables.redisTimeout),
  staleWhileRevalidate: optionalString(variables.staleWhileRevalidate),
  cacheLockTimeout: optionalString(variables.cacheLockTimeout),
  apiKeySet: Config.map(
    Config.all([
      Config.option(Config.string(variables.apiKey)),
      Config.option(Config.string("WORKSPACE_SECRET"))
    ]),
    (values) => values.some(Option.isSome)
  )
})

const parseBoolean = (text: string): boolean | undefined => {
  const value = text.trim().toLowerCase()
  if (["1", "true", "yes", "on"].includes(value)) return true
  if (["0", "false", "no", "off", ""].includes(value)) return false
  return undefined
}

/** `redis://[user:password@]host[:port][/db]` or `rediss://...`; the location is the URL without credentials. */
export const parseRedisUrl = (text: string): Either.Either<{ readonly location: string }, string> => {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    return Either.left("is not a URL: expected redis://host:port[/db] or rediss://host:port[/db]")
  }
  // Only a redis: URL has a password that can be taken out; any other is named by its scheme alone.
  if (url.protocol !== "redis:" && url.protocol !== "rediss:")
    return Either.left(
      `the scheme ${Excerpt.quote(url.protocol)} is not a Redis one: expected redis:// or rediss:// (TLS)`
    )
  url.username = ""
  url.password = ""
  const shown = Excerpt.quote(url.href)
  if (url.hostname === "") return Either.left(`${shown} names no host`)
  if (!/^\/?(\d+)?$/.test(url.pathname))
    return Either.left(`${shown}: the path must be a database number, as in redis://host:6379/0`)
  if (url.search !== "" || url.hash !== "")
    return Either.left(`${shown}: query and fragment are not supported`)
  return Either.right({ location: `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}` })
}

const redisSettings = (
  input: RawSettings,
  problems: Array<string>,
  duration: (name: string, text: string | undefined, fallback: number) => number
): RedisSettings | undefined => {
  const commandTimeoutMs = duration(
    variables.redisTimeout,
    input.redisTimeout,
    defaults.redisCommandTimeoutMs
  )
  if (commandTimeoutMs <= 0) problems.push(`${variables.redisTimeout}: must be more than 0`)
  const text = input.redisUrl === undefined ? "" : Redacted.value(input.redisUrl).trim()
  if (text === "") {
    if (input.redisTimeout !== undefined)
      problems.push(`${variables.redisTimeout} is set, but ${variables.redisUrl} is not: set both or neither`)
    return undefined
  }
  return Either.match(parseRedisUrl(text), {
    onLeft: (message) => {
      problems.push(`${variables.redisUrl}: ${message}`)
      return undefined
    },
    onRight: ({ location }) => ({ url: Redacted.make(text), location, commandTimeoutMs })
  })
}

/** Stale-while-revalidate, and the wait of a miss on another replica's call (which needs Redis). */
const sharedCacheSettings = (
  input: RawSettings,
  problems: Array<string>,
  duration: (name: string, text: string | undefined, fallback: number) => number
) => {
  const lockTimeoutMs = duration(
    variables.cacheLockTimeout,
    input.cacheLockTimeout,
    defaults.cacheLockTimeoutMs
  )
  if (input.cacheLockTimeout !== undefined && lockTimeoutMs <= 0)
    problems.push(`${variables.cacheLockTimeout}: must be more than 0`)
  const redisSet = input.redisUrl !== undefined && Redacted.value(input.redisUrl).trim() !== ""
  if (input.cacheLockTimeout !== undefined && !redisSet)
    problems.push(
      `${variables.cacheLockTimeout} is set, but ${variables.redisUrl} is not: replicas wait on each other only through Redis`
    )
  return {
    staleWhileRevalidateMs: duration(
      variables.staleWhileRevalidate,
      input.staleWhileRevalidate,
      defaults.staleWhileRevalidateMs
    ),
    lockTimeoutMs
  }
}

/** Validates the raw values; `Left` lists every problem, one message per variable. */
export const validate = (input: RawSettings): Either.Either<GatewaySettings, ReadonlyArray<string>> => {
  const problems: Array<string> = []
  const integer = (name: string, text: string | undefined, fallback: number, min: number, max: number) => {
    if (text === undefined) return fallback
    const value = Number(text.trim())
    if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}: ${Excerpt.quote(text)} is not a whole number from ${min} to ${max}`)
      return fallback
    }
    return value
  }
  // The grammar every package shares; these variables are documented as milliseconds when bare.
  const duration = (name: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback
    return Either.getOrElse(parseDurationMillis(text, "millis"), (message) => {
      problems.push(`${name}: ${message}`)
      return fallback
    })
  }

  const port = integer(variables.port, input.port, defaults.port, 0, 65_535)
  let sandbox = false
  if (input.sandbox !== undefined) {
    const parsed = parseBoolean(input.sandbox)
    if (parsed === undefined)
      problems.push(
        `${variables.sandbox}: ${Excerpt.quote(input.sandbox)} is not a boolean (1/0, true/false)`
      )
    else sandbox = parsed
  }
  // The demo accepts a published key: it listens on loopback unless told otherwise.
  const host = input.host?.trim() || (sandbox ? "127.0.0.1" : defaults.host)

  const tokens = (input.callerTokens === undefined ? "" : Redacted.value(input.callerTokens))
    .split(",")
    .map((token) => token.trim())
    .filter((token) => token.length > 0)
  const authText = input.auth?.trim().toLowerCase()
  let auth: AuthMode
  if (authText === undefined || authText === "") {
    if (tokens.length > 0) auth = "own-key"
    else if (input.apiKeySet && !sandbox) {
      problems.push(
        `${variables.apiKey} is set but ${variables.callerTokens} is not: set ${variables.callerTokens} (comma-separated) ` +
          `so that the gateway uses its own key and accepts only those callers, or set ${variables.auth}=forward ` +
          "to forward each caller's bearer token instead"
      )
      auth = "forward"
    } else auth = "forward"
  } else if (authText === "forward" || authText === "own-key") {
    auth = authText
  } else {
    problems.push(
      `${variables.auth}: ${Excerpt.quote(input.auth ?? "")} is not an auth mode: expected forward or own-key`
    )
    auth = "forward"
  }
  if (auth === "own-key") {
    if (tokens.length === 0)
      problems.push(
        `${variables.callerTokens}: own-key mode accepts only configured callers, and none is configured ` +
          "(set one or more tokens, comma-separated)"
      )
    const short = tokens.filter((token) => token.length < minCallerTokenLength).length
    if (short > 0)
      problems.push(
        `${variables.callerTokens}: ${short} token(s) shorter than ${minCallerTokenLength} characters; use long random tokens`
      )
    if (!input.apiKeySet && !sandbox)
      problems.push(
        `${variables.apiKey}: own-key mode calls Convocore with the gateway's own key, and it is not set`
      )
  } else if (tokens.length > 0) {
    problems.push(
      `${variables.callerTokens} is set, but ${variables.auth}=forward does not use it: remove one of them`
    )
  }

  const allowRoutes = [...servedReadRoutes]
  for (const entry of (input.allowRoutes ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e.length > 0)) {
    const match = /^([A-Za-z]+|\*)\s+(\/v3\/\S*)$/.exec(entry)
    if (match === null)
      problems.push(
        `${variables.allowRoutes}: ${Excerpt.quote(entry)} is not "METHOD /v3/path" (* for one segment)`
      )
    else allowRoutes.push({ method: match[1]!.toUpperCase(), path: match[2]! })
  }

  const settings: GatewaySettings = {
    host,
    port,
    auth,
    callerTokens: tokens.map((token) => Redacted.make(token)),
    allowRoutes,
    cache: {
      maxEntries: integer(
        variables.cacheMaxEntries,
        input.cacheMaxEntries,
        defaults.cacheMaxEntries,
        1,
        10_000_000
      ),
      maxBytes: integer(
        variables.cacheMaxBytes,
        input.cacheMaxBytes,
        defaults.cacheMaxBytes,
        1024,
        Number.MAX_SAFE_INTEGER
      ),
      ttlMs: duration(variables.cacheTtl, input.cacheTtl, defaults.cacheTtlMs),
      listTtlMs: duration(variables.listCacheTtl, input.listCacheTtl, defaults.listCacheTtlMs),
      staleIfErrorMs: duration(variables.staleIfError, input.staleIfError, defaults.staleIfErrorMs),
      ...sharedCacheSettings(input, problems, duration)
    },
    shutdownTimeoutMs: duration(variables.shutdownTimeout, input.shutdownTimeout, defaults.shutdownTimeoutMs),
    connections: {
      headersTimeoutMs: duration(variables.headersTimeout, input.headersTimeout, defaults.headersTimeoutMs),
      requestTimeoutMs: duration(variables.requestTimeout, input.requestTimeout, defaults.requestTimeoutMs),
      keepAliveTimeoutMs: duration(
        variables.keepAliveTimeout,
        input.keepAliveTimeout,
        defaults.keepAliveTimeoutMs
      ),
      maxRequestsPerSocket: integer(
        variables.maxRequestsPerSocket,
        input.maxRequestsPerSocket,
        defaults.maxRequestsPerSocket,
        0,
        Number.MAX_SAFE_INTEGER
      ),
      maxConnections: integer(
        variables.maxConnections,
        input.maxConnections,
        defaults.maxConnections,
        1,
        1_000_000
      )
    },
    sandbox,
    redis: redisSettings(input, problems, duration)
  }
  return problems.length === 0 ? Either.right(settings) : Either.left(problems)
}

/** The messages of a `ConfigError`, one per leaf, for a start-up report without a stack trace. */
export const configErrorMessages = (error: ConfigError.ConfigError): ReadonlyArray<string> =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left: ReadonlyArray<string>, right: ReadonlyArray<string>) => [...left, ...right],
    orCase: (_, left: ReadonlyArray<string>, right: ReadonlyArray<string>) => [...left, ...right],
    invalidDataCase: (_, path, message) => [
      path.length > 0 && !message.includes(path.join(".")) ? `${path.join(".")}: ${message}` : message
    ],
    missingDataCase: (_, path, message) => [
      path.length > 0 && !message.includes(path.join(".")) ? `${path.join(".")}: ${message}` : message
    ],
    sourceUnavailableCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    unsupportedCase: (_, path, message) => [`${path.join(".")}: ${message}`]
  })

/** Start-up refused: the configuration is invalid. */
export class InvalidConfiguration extends Data.TaggedError("InvalidConfiguration")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Invalid configuration:\n${this.problems.map((p) => `  - ${p}`).join("\n")}`
  }
}

export class GatewayConfig extends Context.Tag("@convocore-effect/gateway/GatewayConfig")<
  GatewayConfig,
  GatewaySettings
>() {
  static readonly read: Effect.Effect<GatewaySettings, InvalidConfiguration> = Effect.flatMap(
    Effect.mapError(raw, (error) => new InvalidConfiguration({ problems: configErrorMessages(error) })),
    (input) => Either.mapLeft(validate(input), (problems) => new InvalidConfiguration({ problems }))
  )

  static readonly layer = (settings: GatewaySettings): Layer.Layer<GatewayConfig> =>
    Layer.succeed(GatewayConfig, settings)
}
