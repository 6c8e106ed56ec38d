import * as OtlpReceiver from "@convocore-effect/sandbox/OtlpReceiver"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Metric, MetricLabel } from "effect"
import * as ClientMetrics from "../src/ClientMetrics.js"
import { Convocore } from "../src/index.js"
import * as Telemetry from "../src/Telemetry.js"
import { fromEnv, isConfigured } from "../src/TelemetryConfig.js"
import { clientLayer, ok, ref, SECRET } from "./services/ScriptedTransport.js"

const defaults = { serviceName: "fallback" }

describe("TelemetryConfig", () => {
  it("asks for nothing without an endpoint, or when the SDK is disabled", () => {
    assert.isFalse(isConfigured({ OTEL_SERVICE_NAME: "x" }))
    assert.isFalse(isConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }))
    assert.isTrue(isConfigured({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://c:4318/m" }))
    assert.deepStrictEqual(fromEnv({}, defaults), Either.right(undefined))
  })

  it("appends the signal paths to the base endpoint and takes the signal endpoints as given", () => {
    const options = Either.getOrThrow(
      fromEnv(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/custom",
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_EXPORTER_OTLP_HEADERS: "api-key=a%2Cb%3Dc, x-team = blue",
          OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,service.name=from-attributes",
          OTEL_SERVICE_NAME: "from-name"
        },
        defaults
      )
    )
    assert.strictEqual(options?.tracesUrl, "https://traces.example/custom")
    assert.strictEqual(options?.metricsUrl, "http://collector:4318/v1/metrics")
    assert.strictEqual(options?.protocol, "http/json")
    assert.deepStrictEqual(options?.headers, { "api-key": "a,b=c", "x-team": "blue" })
    assert.strictEqual(options?.serviceName, "from-name")
    assert.strictEqual(options?.attributes?.["deployment.environment"], "prod")
  })

  it("names unusable variables without echoing a header's value", () => {
    const problems = Either.flip(
      fromEnv(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318",
          OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
          OTEL_EXPORTER_OTLP_HEADERS: "api-key=%E0%A4%A-secret-value"
        },
        defaults
      )
    )
    const text = Either.getOrThrow(problems).join("\n")
    assert.include(text, "OTEL_EXPORTER_OTLP_ENDPOINT")
    assert.include(text, "OTEL_EXPORTER_OTLP_PROTOCOL")
    assert.include(text, "OTEL_EXPORTER_OTLP_HEADERS: entry 1")
    assert.notInclude(text, "secret-value")
  })
})

const attempts = (region: string, outcome: string) =>
  Metric.value(
    ClientMetrics.attempts.pipe(
      Metric.taggedWithLabels([MetricLabel.make("region", region), MetricLabel.make("outcome", outcome)])
    )
  ).pipe(Effect.map((state) => state.count))

/** EU refuses the connection, NA answers: a call with two attempts. */
const failoverCall = Effect.flatMap(Convocore, (convocore) => convocore.getConversation(ref)).pipe(
  Effect.provide(clientLayer((region) => (region === "eu" ? "refused" : ok())).layer)
)

describe("Telemetry.layer", () => {
  for (const protocol of ["http/protobuf", "http/json"] as const) {
    it.live(`exports the call and one span per attempt over ${protocol}, without the key`, () =>
      Effect.gen(function* () {
        const receiver = yield* OtlpReceiver.make
        yield* failoverCall.pipe(
          Effect.provide(
            Telemetry.layer({
              tracesUrl: `${receiver.url}/v1/traces`,
              metricsUrl: `${receiver.url}/v1/metrics`,
              protocol,
              headers: { "x-collector-key": "collector-secret" },
              serviceName: "client-test"
            })
          )
        )
        const spans = receiver.spans()
        const call = spans.find((span) => span.name === "Convocore.getConversation")
        assert.isDefined(call)
        assert.strictEqual(call?.resource["service.name"], "client-test")
        const tried = spans.filter((span) => span.name === "Convocore.attempt")
        assert.deepStrictEqual(
          tried.map((span) => [span.attributes["convocore.region"], span.attributes["convocore.outcome"]]),
          [
            ["eu", "connect-failed"],
            ["na", "ok"]
          ]
        )
        for (const span of tried) {
          assert.strictEqual(span.parentSpanId, call?.spanId)
          assert.strictEqual(span.kind, 3)
          assert.strictEqual(span.attributes["http.request.method"], "GET")
          assert.strictEqual(span.attributes["url.path"], "/v3/agents/agent123/convos/convo456")
          assert.strictEqual(span.attributes["convocore.hedged"], false)
        }
        assert.strictEqual(tried[0]?.attributes["server.address"], "eu.test")
        assert.strictEqual(tried[0]?.attributes["error.type"], "connect-failed")
        assert.strictEqual(tried[1]?.attributes["http.response.status_code"], 200)

        const bodies = receiver.bodies()
        const metrics = bodies.filter((body) => body.path === "/v1/metrics")
        assert.isTrue(metrics.some((body) => Buffer.from(body.bytes).includes("convocore.client.attempts")))
        for (const body of bodies) {
          assert.include(body.contentType, protocol === "http/json" ? "json" : "protobuf")
          assert.strictEqual(body.headers["x-collector-key"], "collector-secret")
          assert.isFalse(Buffer.from(body.bytes).includes(SECRET), `${body.path} carries the key`)
        }
      }).pipe(Effect.scoped)
    )
  }

  it.live("records the client's metrics only where they are turned on", () =>
    Effect.gen(function* () {
      const before = yield* attempts("eu", "connect-failed")
      yield* failoverCall
      assert.strictEqual(yield* attempts("eu", "connect-failed"), before)
      yield* Effect.provide(failoverCall, ClientMetrics.layer)
      assert.strictEqual(yield* attempts("eu", "connect-failed"), before + 1)
    })
  )

  it.effect("records the rate controller's current rate per region once it has one", () =>
    Effect.gen(function* () {
      const rate = Metric.value(
        ClientMetrics.requestRate.pipe(Metric.taggedWithLabels([MetricLabel.make("region", "na")]))
      ).pipe(Effect.map((state) => state.value))
      // A ceiling gives the controller a rate from the first answer on.
      const paced = clientLayer(() => ok(), { region: "na", maxRate: 7 })
      yield* Effect.flatMap(Convocore, (convocore) => convocore.getConversation(ref)).pipe(
        Effect.provide(paced.layer),
        Effect.provide(ClientMetrics.layer)
      )
      assert.isAbove(yield* rate, 0)
      assert.isAtMost(yield* rate, 7)
    })
  )
})
