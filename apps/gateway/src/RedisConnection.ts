/**
 * The gateway's connection to the Redis its replicas share (`GATEWAY_REDIS_URL`), through ioredis.
 *
 * Redis is never a reason to fail a request or to stop the gateway:
 * - a command fails at once while Redis is unreachable (no offline queue that would hold it), and is
 *   bounded by `GATEWAY_REDIS_TIMEOUT` while Redis is slow, so callers fall back to memory and upstream;
 * - the client reconnects by itself, with a capped backoff, for as long as the gateway runs;
 * - the gateway starts without waiting for Redis: a replica whose Redis is down serves from memory;
 * - each change of state is logged once (not once per failed command) and read by `status`.
 *
 * The URL may carry a password: it is held redacted, and only `location` (no credentials) is ever shown.
 */
import { Context, Data, Effect, Layer, Redacted, Runtime } from "effect"
import { Redis } from "ioredis"
import type { RedisSettings } from "./GatewayConfig.js"

/** `connecting` before the first connection; `unavailable` after a connection failed or was lost. */
export type RedisStatus = "connecting" | "ready" | "unavailable"

/** A Redis command that did not complete: Redis unreachable, too slow, or the command refused. */
export class RedisUnavailable extends Data.TaggedError("RedisUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return `Redis: ${this.reason}`
  }
}

export interface RedisConnectionService {
  /** The URL without credentials, for logs and metrics. */
  readonly location: string
  /** The connection for commands. */
  readonly client: Redis
  /** A second connection for SUBSCRIBE, opened on first use (a subscribed connection can run nothing else). */
  readonly subscriber: () => Redis
  readonly status: () => RedisStatus
  /** Runs one command; a failure of any kind is a `RedisUnavailable`, never a throw or a hang. */
  readonly run: <A>(command: (client: Redis) => Promise<A>) => Effect.Effect<A, RedisUnavailable>
}

/** Reconnect after 50 ms, 100 ms, ... at most once a second: soon after Redis is back, cheaply while it is not. */
export const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 50, 1_000)

const reasonOf = (cause: unknown): string => {
  const message =
    cause instanceof Error ? cause.message : typeof cause === "string" ? cause : "command failed"
  // ioredis's words for a command refused while there is no connection.
  return message.includes("enableOfflineQueue") ? "not connected" : message
}

export class RedisConnection extends Context.Tag("@convocore-effect/gateway/RedisConnection")<
  RedisConnection,
  RedisConnectionService
>() {
  static readonly layer = (settings: RedisSettings): Layer.Layer<RedisConnection> =>
    Layer.scoped(RedisConnection, RedisConnection.make(settings))

  static readonly make = (settings: RedisSettings) =>
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      const log = (effect: Effect.Effect<void>) => Runtime.runFork(runtime)(effect)
      const { location } = settings
      const options = {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: settings.commandTimeoutMs,
        connectTimeout: Math.max(1_000, settings.commandTimeoutMs),
        retryStrategy: reconnectDelayMs
      }
      const connections: Array<Redis> = []
      const open = (): Redis => {
        const client = new Redis(Redacted.value(settings.url), options)
        connections.push(client)
        return client
      }

      let status: RedisStatus = "connecting"
      let lastError = ""
      const client = open()
      client.on("ready", () => {
        if (status !== "ready") log(Effect.logInfo(`Redis at ${location} is connected`))
        status = "ready"
      })
      // ioredis reports every failed reconnect; one line per change of state is what an operator needs.
      client.on("error", (error: unknown) => {
        lastError = reasonOf(error)
      })
      // Set when the scope closes: the connection closed then is the gateway's doing, not Redis's.
      let closing = false
      client.on("close", () => {
        if (status === "unavailable" || closing) return
        const was = status
        status = "unavailable"
        log(
          Effect.logWarning(
            was === "ready"
              ? `Redis at ${location} is unreachable (${lastError || "connection closed"}); serving from this replica's memory and upstream, reconnecting`
              : `Redis at ${location} could not be reached (${lastError || "connection closed"}); serving from this replica's memory and upstream, retrying`
          )
        )
      })
      client.connect().catch(() => {
        // Reported by the "close" handler above; the client keeps retrying by itself.
      })

      let subscriber: Redis | undefined
      const service: RedisConnectionService = {
        location,
        client,
        subscriber: () => {
          if (subscriber === undefined) {
            subscriber = open()
            subscriber.on("error", () => {
              // The command connection reports Redis's state; this one reconnects and resubscribes by itself.
            })
            subscriber.connect().catch(() => {})
          }
          return subscriber
        },
        status: () => status,
        run: <A>(command: (redis: Redis) => Promise<A>) =>
          Effect.tryPromise({
            try: () => command(client),
            catch: (cause) => new RedisUnavailable({ reason: reasonOf(cause) })
          })
      }

      yield* Effect.addFinalizer(() =>
        Effect.zipRight(
          Effect.sync(() => {
            closing = true
          }),
          Effect.forEach(
            connections,
            (connection) =>
              Effect.promise(() => connection.quit().catch(() => "closed")).pipe(
                Effect.timeout("1 second"),
                Effect.catchAll(() => Effect.sync(() => connection.disconnect())),
                Effect.ensuring(Effect.sync(() => connection.disconnect()))
              ),
            { discard: true }
          )
        )
      )
      return service
    })
}
