/**
 * The fleet's upstream budget in Redis (./FleetRateStore.ts says what is kept): each operation is one Lua
 * script, atomic, on one hash per region, timed by Redis's `TIME` rather than the replicas' clocks.
 * Scripts are sent once and then run by their hash (ioredis's `defineCommand`).
 */
import { AdaptiveRate } from "@convocore-effect/client"
import { Effect, Either, Schema } from "effect"
import type { Redis } from "ioredis"
import {
  type FleetRateStore,
  idleTtlMs,
  lateMs,
  type ReserveOptions,
  replicaTtlMs,
  type SharedRate
} from "./FleetRateStore.js"
import type { RedisConnectionService } from "./RedisConnection.js"

/** Every key the budget writes starts with this. */
export const keyPrefix = "convocore-gateway:"
const fleetKey = `${keyPrefix}replicas`

const now = `
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
`

// `schedule` in ./FleetRateStore.ts, in Lua. Numbers go back as strings: Redis turns Lua numbers into integers.
const reserveScript = `${now}
local interval, maxWait, force, late = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == "1", tonumber(ARGV[5])
local fields = redis.call("HMGET", KEYS[1], "tat", "sent", "version", "state", "notBefore")
local tat, sent = tonumber(fields[1]) or 0, tonumber(fields[2]) or 0
local function reply(granted, at)
  return { granted, string.format("%.3f", math.max(0, at - now)), string.format("%.3f", now),
    fields[3] or "0", fields[4] or "", tostring(sent) }
end
local at, nextTat
if force then
  at, nextTat = now, math.max(now, tat) + interval
else
  at = tat
  if tat < now - late then at = now end
  at = math.max(at, tonumber(fields[5]) or 0)
  if at - now >= maxWait then return reply("0", at) end
  nextTat = at + interval
end
redis.call("HSET", KEYS[1], "tat", string.format("%.3f", nextTat))
sent = redis.call("HINCRBY", KEYS[1], "sent", 1)
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return reply("1", at)
`

const updateScript = `${now}
local fields = redis.call("HMGET", KEYS[1], "version", "state", "sent")
local version = tonumber(fields[1]) or 0
if version ~= tonumber(ARGV[1]) then
  return { "0", "0", string.format("%.3f", now), tostring(version), fields[2] or "", fields[3] or "0" }
end
version = version + 1
redis.call("HSET", KEYS[1], "version", version, "state", ARGV[2], "notBefore", ARGV[3])
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return { "1", "0", string.format("%.3f", now), tostring(version), ARGV[2], fields[3] or "0" }
`

const heartbeatScript = `${now}
redis.call("ZADD", KEYS[1], now, ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now - tonumber(ARGV[2]))
redis.call("PEXPIRE", KEYS[1], ARGV[2] * 2)
return redis.call("ZCARD", KEYS[1])
`

/** [granted or applied, wait (reserve only), the store's time, version, state JSON, sent]. */
type Reply = [string, string, string, string, string, string]

/** The client with the scripts defined on it, as `defineCommand` adds them (ioredis cannot type them). */
interface Scripted extends Redis {
  convocoreRateReserve(key: string, ...args: Array<string | number>): Promise<Reply>
  convocoreRateUpdate(key: string, ...args: Array<string | number>): Promise<Reply>
  convocoreFleetHeartbeat(key: string, replica: string, ttlMs: number): Promise<number>
}

// `undefined` fields are left out of the JSON (no rate yet, nothing measured); the rest must be there.
const StoredState = Schema.parseJson(
  Schema.Struct({
    rate: Schema.optional(Schema.Number),
    lastSentAt: Schema.optional(Schema.Number),
    refusedRate: Schema.Number,
    decreasedAt: Schema.Number,
    probing: Schema.Boolean,
    measured: Schema.optional(Schema.Number),
    bucketAt: Schema.optional(Schema.Number),
    bucketCount: Schema.Number,
    bucketSentFrom: Schema.Number,
    pausedUntil: Schema.Number,
    throttled: Schema.Number,
    accepted: Schema.Number
  })
)
const decodeState = Schema.decodeEither(StoredState)

/** What a script answered: the store's time and the shared state (a missing or unreadable one: a new one). */
const sharedOf = (reply: Reply): { readonly now: number; readonly shared: SharedRate } => {
  const [, , time, version, json, sent] = reply
  const stored = json === "" ? undefined : Either.getOrUndefined(decodeState(json))
  return {
    now: Number(time),
    shared: {
      state: { ...AdaptiveRate.initial, ...stored, sent: Number(sent) },
      version: Number(version)
    }
  }
}

export const make = (redis: RedisConnectionService): FleetRateStore => {
  redis.client.defineCommand("convocoreRateReserve", { numberOfKeys: 1, lua: reserveScript })
  redis.client.defineCommand("convocoreRateUpdate", { numberOfKeys: 1, lua: updateScript })
  redis.client.defineCommand("convocoreFleetHeartbeat", { numberOfKeys: 1, lua: heartbeatScript })
  // The commands exist on the client from here on; `Scripted` only names them for the compiler.
  const run = <A>(command: (client: Scripted) => Promise<A>) =>
    redis.run((client) => command(client as Scripted))
  return {
    reserve: (key: string, options: ReserveOptions) =>
      Effect.map(
        run((client) =>
          client.convocoreRateReserve(
            key,
            options.intervalMs,
            options.maxWaitMs,
            options.force ? "1" : "0",
            idleTtlMs,
            lateMs
          )
        ),
        (reply) => ({ ...sharedOf(reply), granted: reply[0] === "1", waitMs: Number(reply[1]) })
      ),
    update: (key, expected, next) =>
      Effect.map(
        run((client) =>
          client.convocoreRateUpdate(key, expected, JSON.stringify(next), next.pausedUntil, idleTtlMs)
        ),
        (reply) => ({ ...sharedOf(reply), applied: reply[0] === "1" })
      ),
    heartbeat: (replica) => run((client) => client.convocoreFleetHeartbeat(fleetKey, replica, replicaTtlMs)),
    leave: (replica) => Effect.asVoid(run((client) => client.zrem(fleetKey, replica))),
    connecting: () => redis.status() === "connecting"
  }
}
