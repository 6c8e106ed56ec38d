import * as Net from "node:net"
import { Fixtures } from "@convocore-effect/sandbox"
import * as OtlpReceiver from "@convocore-effect/sandbox/OtlpReceiver"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { run } from "./services/Binary.js"
import * as SandboxEnv from "./services/SandboxEnv.js"

const get = ["conversations", "get", Fixtures.demoAgent, Fixtures.ids.seedExample, "--format", "json"]

/** A loopback port that nothing listens on: connections to it are refused. */
const refusedPort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = Net.createServer().listen(0, "127.0.0.1", () => {
        const address = server.address()
        server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
      })
    })
)

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const started = performance.now()
    const value = yield* effect
    return { value, ms: performance.now() - started }
  })

layer(SandboxEnv.layer)("telemetry", (it) => {
  for (const protocol of ["http/protobuf", "http/json"] as const) {
    it.scoped(`a get that fails over exports the call and both attempts over ${protocol}`, () =>
      SandboxEnv.withFaults(
        { eu: "down" },
        Effect.gen(function* () {
          const receiver = yield* OtlpReceiver.make
          const env = {
            ...(yield* SandboxEnv.env),
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
            OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
            OTEL_SERVICE_NAME: "cli-under-test"
          }
          const result = yield* run(get, { env })
          assert.strictEqual(result.code, 0, result.stderr)
          const spans = receiver.spans()
          const call = spans.find((span) => span.name === "Convocore.getConversation")
          assert.isDefined(call, spans.map((span) => span.name).join(", "))
          assert.strictEqual(call?.resource["service.name"], "cli-under-test")
          const attempts = spans.filter((span) => span.name === "Convocore.attempt")
          assert.deepStrictEqual(
            attempts.map((span) => [
              span.attributes["convocore.region"],
              span.attributes["convocore.outcome"]
            ]),
            [
              ["eu", "connect-failed"],
              ["na", "ok"]
            ]
          )
          for (const span of attempts) assert.strictEqual(span.parentSpanId, call?.spanId)
          const bodies = receiver.bodies()
          assert.isTrue(bodies.some((body) => body.path === "/v1/metrics"))
          for (const body of bodies)
            assert.isFalse(
              Buffer.from(body.bytes).includes(Fixtures.demoApiKey),
              `${body.path} carries the key`
            )
        })
      )
    )
  }

  it.scoped("an export is one span with its counts, the calls for its conversations below it", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const env = {
        ...(yield* SandboxEnv.env),
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json"
      }
      const result = yield* run(["conversations", "export", Fixtures.demoAgent, "--ids", "-"], {
        env,
        stdin: "generated-1\ngenerated-2\n"
      })
      assert.strictEqual(result.code, 0, result.stderr)
      const spans = receiver.spans()
      const exportSpan = spans.find((span) => span.name === "Convocore.export")
      assert.isDefined(exportSpan, spans.map((span) => span.name).join(", "))
      assert.strictEqual(Number(exportSpan?.attributes["convocore.export.exported"]), 2)
      assert.strictEqual(Number(exportSpan?.attributes["convocore.export.failed"]), 0)
      const calls = spans.filter((span) => span.name === "Convocore.getConversation")
      assert.strictEqual(calls.length, 2)
      for (const call of calls) assert.strictEqual(call.parentSpanId, exportSpan?.spanId)
    })
  )

  it.scoped("an export reports its progress as a metric", () =>
    Effect.gen(function* () {
      const receiver = yield* OtlpReceiver.make
      const env = {
        ...(yield* SandboxEnv.env),
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.url}/v1/metrics`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json"
      }
      const ids = "generated-1\ngenerated-2\n"
      const result = yield* run(["conversations", "export", Fixtures.demoAgent, "--ids", "-"], {
        env,
        stdin: ids
      })
      assert.strictEqual(result.code, 0, result.stderr)
      const metrics = receiver.bodies().map((body) => new TextDecoder().decode(body.bytes))
      assert.isTrue(metrics.some((text) => text.includes("convocore.cli.export.conversations")))
      // Traces were not asked for: only the metrics endpoint is set.
      assert.isTrue(receiver.bodies().every((body) => body.path === "/v1/metrics"))
    })
  )

  it.scoped("with the collector down, a get still succeeds, held at most the 2 s flush bound", () =>
    Effect.gen(function* () {
      const env = yield* SandboxEnv.env
      const without = yield* timed(run(get, { env }))
      const port = yield* refusedPort
      const down = yield* timed(
        run(get, { env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` } })
      )
      assert.strictEqual(down.value.code, 0, down.value.stderr)
      assert.strictEqual(down.value.stdout, without.value.stdout)
      assert.strictEqual(down.value.stderr, "")
      // The bound plus room for a loaded machine's slower start of the exporter.
      assert.isBelow(down.ms - without.ms, 2_000 + 1_500)
    })
  )

  it.scoped("variables it cannot use turn the export off with a line on stderr, not a failure", () =>
    Effect.gen(function* () {
      const env = {
        ...(yield* SandboxEnv.env),
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc"
      }
      const result = yield* run(get, { env })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.include(result.stderr, "telemetry off: OTEL_EXPORTER_OTLP_PROTOCOL")
      assert.notInclude(result.stdout, "telemetry")
    })
  )
})
