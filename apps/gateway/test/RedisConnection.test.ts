import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, Logger, Redacted } from "effect"
import type { RedisSettings } from "../src/GatewayConfig.js"
import { RedisConnection, type RedisStatus } from "../src/RedisConnection.js"
import { redisAvailable, redisServer } from "./services/RedisServer.js"

const settings = (url: string, commandTimeoutMs = 200): RedisSettings => ({
  url: Redacted.make(url),
  location: url.replace(/\/\/[^@]*@/, "//"),
  commandTimeoutMs
})

/** The connection with every log line it writes, for the life of the scope. */
const connect = (url: string, commandTimeoutMs?: number) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
    })
    const redis = yield* RedisConnection.make(settings(url, commandTimeoutMs)).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
    return { redis, lines }
  })

const until = (what: string, check: () => boolean, withinMs = 5_000) =>
  Effect.gen(function* () {
    const end = Date.now() + withinMs
    while (!check()) {
      if (Date.now() > end) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("10 millis")
    }
  })

const waitForStatus = (status: () => RedisStatus, wanted: RedisStatus) =>
  until(`Redis status ${wanted}`, () => status() === wanted)

describe.skipIf(!redisAvailable)("RedisConnection, against a real redis-server", () => {
  it.live("runs commands once connected", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* redisServer()
        const { redis, lines } = yield* connect(server.url)
        yield* waitForStatus(redis.status, "ready")
        yield* redis.run((client) => client.set("k", "v"))
        assert.strictEqual(yield* redis.run((client) => client.get("k")), "v")
        assert.deepStrictEqual(lines, [`INFO Redis at ${server.url} is connected`])
      })
    )
  )

  it.live("says nothing about Redis being unreachable when the gateway itself closes the connection", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* redisServer()
        const lines = yield* Effect.scoped(
          Effect.gen(function* () {
            const { redis, lines } = yield* connect(server.url)
            yield* waitForStatus(redis.status, "ready")
            return lines
          })
        )
        yield* Effect.sleep("50 millis")
        assert.deepStrictEqual(lines, [`INFO Redis at ${server.url} is connected`])
      })
    )
  )

  it.live("fails commands at once while Redis is down, says so once, and reconnects by itself", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* redisServer()
        const { redis, lines } = yield* connect(server.url)
        yield* waitForStatus(redis.status, "ready")
        yield* Effect.promise(server.stop)
        yield* waitForStatus(redis.status, "unavailable")

        const started = Date.now()
        for (let i = 0; i < 20; i++) {
          const exit = yield* Effect.exit(redis.run((client) => client.get("k")))
          assert.isTrue(Exit.isFailure(exit))
        }
        // No offline queue: twenty commands against a down Redis end without waiting for any timeout.
        assert.isBelow(Date.now() - started, 200 * 2)
        const error = yield* Effect.flip(redis.run((client) => client.get("k")))
        assert.strictEqual(error._tag, "RedisUnavailable")

        yield* Effect.promise(server.start)
        yield* waitForStatus(redis.status, "ready")
        yield* redis.run((client) => client.set("back", "1"))
        assert.strictEqual(lines.filter((line) => line.includes("unreachable")).length, 1)
        assert.deepStrictEqual(
          lines.map((line) => line.split(" ")[0]),
          ["INFO", "WARN", "INFO"],
          lines.join("\n")
        )
      })
    )
  )

  it.live("bounds a command by the timeout when Redis stops answering", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* redisServer()
        const { redis } = yield* connect(server.url, 100)
        yield* waitForStatus(redis.status, "ready")
        server.pause()
        yield* Effect.addFinalizer(() => Effect.sync(server.resume))
        const outcome = yield* Effect.either(redis.run((client) => client.get("k"))).pipe(
          Effect.timeout("3 seconds")
        )
        assert.isTrue(Either.isLeft(outcome))
        if (Either.isLeft(outcome)) assert.match(outcome.left.reason, /timed out/i)
      })
    )
  )

  it.live("starts without Redis, and never logs the URL's password", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* redisServer({ password: "right-password-xyz" })
        const wrong = `redis://:s3cret-wrong-password@127.0.0.1:${server.port}`
        const { redis, lines } = yield* connect(wrong)
        yield* until("a warning", () => lines.length > 0)
        assert.notStrictEqual(redis.status(), "ready")
        const error = yield* Effect.flip(redis.run((client) => client.get("k")))
        for (const text of [...lines, error.message]) assert.notInclude(text, "s3cret")
        assert.include(lines[0] ?? "", `redis://127.0.0.1:${server.port}`)

        const right = yield* connect(`redis://:right-password-xyz@127.0.0.1:${server.port}`)
        yield* waitForStatus(right.redis.status, "ready")
      })
    )
  )
})
