/**
 * The shared cache on Redis (./SharedCache.ts), over the gateway's `RedisConnection`.
 *
 * - An entry is one key holding its exact bytes behind a short header (`encodeEntry`), read and written as
 *   buffers, with a Redis TTL at its `staleUntil`, so Redis forgets it when no replica may serve it anymore.
 * - A lock is `SET lock token NX PX ttl`, released by a compare-and-delete, so a replica never releases a
 *   lock that expired and was taken by another. Each is a script that does one more thing in the same
 *   round trip: taking the lock reads the entry (another replica may have stored it since this one
 *   looked), releasing it publishes `settled`.
 * - Events go over one pub/sub channel (the key in the message), which each replica subscribes to once on
 *   the connection's subscriber; no SUBSCRIBE per key per request.
 *
 * Keys: `convocore-gateway:v1:entry:<tenant>:<agentId>:<convoId>` and `...:lock:...`, each part
 * percent-encoded (so a `:` in an id cannot make two keys meet); `v1` is the encoding's version.
 */
import { randomUUID } from "node:crypto"
import { Effect, Layer } from "effect"
import { RedisConnection } from "./RedisConnection.js"
import type { Entry } from "./ResponseCache.js"
import { type FleetEvent, SharedCache, SharedCacheUnavailable } from "./SharedCache.js"

export const namespace = "convocore-gateway:v1"
export const eventsChannel = `${namespace}:events`

const redisKey = (kind: "entry" | "lock", key: string): string =>
  `${namespace}:${kind}:${key.split("\u0000").map(encodeURIComponent).join(":")}`

/** `[u32 header length][JSON header][body]`: the body's bytes are stored as they are, never re-encoded. */
export const encodeEntry = (entry: Entry): Buffer => {
  const header = Buffer.from(
    JSON.stringify([
      entry.contentType,
      entry.region,
      entry.upstreamRequestId ?? null,
      entry.storedAt,
      entry.expiresAt,
      entry.staleUntil
    ])
  )
  const length = Buffer.allocUnsafe(4)
  length.writeUInt32BE(header.byteLength)
  return Buffer.concat([length, header, entry.body])
}

/** The entry, or `undefined` for bytes that are not one (another version's, or damaged): a miss. */
export const decodeEntry = (bytes: Buffer): Entry | undefined => {
  if (bytes.byteLength < 4) return undefined
  const end = 4 + bytes.readUInt32BE(0)
  if (end > bytes.byteLength) return undefined
  let header: unknown
  try {
    header = JSON.parse(bytes.subarray(4, end).toString("utf8"))
  } catch {
    return undefined
  }
  if (!Array.isArray(header) || header.length !== 6) return undefined
  const [contentType, region, upstreamRequestId, storedAt, expiresAt, staleUntil] = header
  if (
    typeof contentType !== "string" ||
    typeof region !== "string" ||
    (upstreamRequestId !== null && typeof upstreamRequestId !== "string") ||
    typeof storedAt !== "number" ||
    typeof expiresAt !== "number" ||
    typeof staleUntil !== "number"
  )
    return undefined
  return {
    body: bytes.subarray(end),
    contentType,
    region,
    upstreamRequestId: upstreamRequestId ?? undefined,
    storedAt,
    expiresAt,
    staleUntil
  }
}

// KEYS: lock, entry; ARGV: token, ttl in ms. Returns { 1 if the lock was taken else 0, the entry or false }.
const lockScript = `local taken = redis.call("set", KEYS[1], ARGV[1], "NX", "PX", ARGV[2])
return { taken and 1 or 0, redis.call("get", KEYS[2]) }`

// KEYS: lock; ARGV: token, channel, message.
const releaseScript = `if redis.call("get", KEYS[1]) == ARGV[1] then redis.call("del", KEYS[1]) end
return redis.call("publish", ARGV[2], ARGV[3])`

const encodeEvent = (event: FleetEvent): string =>
  event._tag === "Settled" ? `settled\n${event.key}` : event._tag === "Purged" ? `purged\n${event.key}` : ""

const decodeEvent = (message: string): FleetEvent | undefined => {
  const newline = message.indexOf("\n")
  const kind = message.slice(0, newline)
  const key = message.slice(newline + 1)
  if (newline === -1) return undefined
  return kind === "settled"
    ? { _tag: "Settled", key }
    : kind === "purged"
      ? { _tag: "Purged", key }
      : undefined
}

export const layer = Layer.effect(
  SharedCache,
  Effect.gen(function* () {
    const redis = yield* RedisConnection
    // A Redis that is connected but does not answer in time (paused, overloaded) closes no connection, so
    // the connection's own state says nothing: commands say it. Once per change, as the connection does.
    let failing = false
    const run = <A>(command: Parameters<typeof redis.run<A>>[0]) =>
      redis.run(command).pipe(
        Effect.tapBoth({
          onFailure: (error) =>
            failing || redis.status() !== "ready"
              ? Effect.void
              : Effect.zipRight(
                  Effect.sync(() => {
                    failing = true
                  }),
                  Effect.logWarning(
                    `Redis at ${redis.location} is connected but not answering (${error.reason}); serving from this replica's memory and upstream`
                  )
                ),
          onSuccess: () =>
            !failing
              ? Effect.void
              : Effect.zipRight(
                  Effect.sync(() => {
                    failing = false
                  }),
                  Effect.logInfo(`Redis at ${redis.location} is answering again`)
                )
        }),
        Effect.mapError((error) => new SharedCacheUnavailable({ reason: error.reason }))
      )

    return {
      get: (key) =>
        Effect.map(
          run((client) => client.getBuffer(redisKey("entry", key))),
          (bytes) => (bytes === null ? undefined : decodeEntry(bytes))
        ),
      set: (key, entry) =>
        Effect.suspend(() => {
          const ttlMs = Math.ceil(entry.staleUntil - Date.now())
          if (ttlMs <= 0) return Effect.void
          return Effect.asVoid(
            run((client) => client.set(redisKey("entry", key), encodeEntry(entry), "PX", ttlMs))
          )
        }),
      delete: (key) =>
        Effect.map(
          run((client) => client.del(redisKey("entry", key))),
          (n) => n > 0
        ),
      lock: (key, ttlMs) =>
        Effect.suspend(() => {
          const token = randomUUID()
          const ms = Math.max(1, Math.ceil(ttlMs))
          return Effect.map(
            run((client) =>
              client.callBuffer(
                "EVAL",
                lockScript,
                2,
                redisKey("lock", key),
                redisKey("entry", key),
                token,
                ms
              )
            ),
            (answer) => {
              // The script's reply: [1 or 0, the entry's bytes or nil].
              const [taken, bytes] = Array.isArray(answer) ? answer : []
              return {
                token: taken === 1 ? token : undefined,
                entry: Buffer.isBuffer(bytes) ? decodeEntry(bytes) : undefined
              }
            }
          )
        }),
      release: (key, token) =>
        Effect.asVoid(
          run((client) =>
            client.eval(
              releaseScript,
              1,
              redisKey("lock", key),
              token,
              eventsChannel,
              encodeEvent({ _tag: "Settled", key })
            )
          )
        ),
      publish: (event) => Effect.asVoid(run((client) => client.publish(eventsChannel, encodeEvent(event)))),
      subscribe: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const subscriber = redis.subscriber()
            let connected = false
            const onMessage = (channel: string, message: string) => {
              if (channel !== eventsChannel) return
              const event = decodeEvent(message)
              if (event !== undefined) listener(event)
            }
            // Without an offline queue a SUBSCRIBE sent before the connection is up fails: it is sent on
            // every "ready" (again after a reconnect, a no-op where ioredis already resubscribed).
            const join = () => {
              subscriber.subscribe(eventsChannel).catch(() => {
                // The connection went away again; the next "ready" subscribes.
              })
            }
            // What was published while the subscription was down is lost: the listener hears that.
            const onReady = () => {
              if (connected) listener({ _tag: "Resubscribed" })
              connected = true
              join()
            }
            subscriber.on("message", onMessage)
            subscriber.on("ready", onReady)
            if (subscriber.status === "ready") {
              connected = true
              join()
            }
            return { subscriber, onMessage, onReady }
          }),
          ({ onMessage, onReady, subscriber }) =>
            Effect.sync(() => {
              subscriber.off("message", onMessage)
              subscriber.off("ready", onReady)
            })
        ),
      up: () => redis.status() === "ready" && !failing
    }
  })
)
