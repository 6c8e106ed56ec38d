/**
 * The API key appears in no error message, no serialized error, no span attribute and no log line,
 * whatever goes wrong. Each scenario first proves the key was really sent, so the absence means something.
 */
import { ConvocoreError } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Logger, LogLevel, Schema, type Tracer } from "effect"
import { recordingTracer } from "./services/RecordingTracer.js"
import { runTraced } from "./services/Run.js"
import { clientLayer, errorReply, json, ok, type Script, SECRET } from "./services/ScriptedTransport.js"

const encodeError = Schema.encodeSync(ConvocoreError)

const scenarios: ReadonlyArray<readonly [string, Script, string]> = [
  ["401", () => errorReply(401, "UNAUTHORIZED"), "Unauthorized"],
  ["both regions refuse", () => "refused", "AllRegionsFailed"],
  ["every attempt times out", () => "hang", "Timeout"],
  ["429 with a long hint, pinned", () => errorReply(429, undefined, { "retry-after": "999" }), "RateLimited"],
  [
    "an HTML 200",
    () => new Response("<html></html>", { headers: { "content-type": "text/html" } }),
    "InvalidResponse"
  ],
  [
    "a schema mismatch",
    () => json(200, { success: true, message: "ok", data: { messagesNum: "x" } }),
    "InvalidResponse"
  ],
  ["a success", () => ok(), "ok"]
]

describe("the API key never leaks", () => {
  for (const [name, script, expected] of scenarios) {
    it.effect(name, () => {
      const { sent, layer } = clientLayer(script, name.includes("pinned") ? { regionPolicy: "pinned" } : {})
      const spans: Array<Tracer.Span> = []
      const lines: Array<string> = []
      const capture = Logger.make((options) => {
        lines.push(Logger.logfmtLogger.log(options))
        lines.push(JSON.stringify(Logger.structuredLogger.log(options)))
      })
      return Effect.gen(function* () {
        const recording = yield* recordingTracer(spans)
        const { result } = yield* runTraced().pipe(
          Effect.withTracer(recording),
          Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        assert.isTrue(sent.length > 0)
        assert.isTrue(
          sent.every((s) => s.request.headers.authorization === `Bearer ${SECRET}`),
          "the key was sent, as a bearer token"
        )
        assert.strictEqual(Either.isLeft(result) ? result.left._tag : "ok", expected)
        if (Either.isLeft(result)) {
          const error = result.left
          assert.notInclude(error.message, SECRET)
          assert.notInclude(String(error), SECRET)
          assert.notInclude(JSON.stringify(error), SECRET)
          assert.notInclude(JSON.stringify(encodeError(error)), SECRET)
          assert.isTrue(lines.length > 0, "failures are logged")
        }
        const attemptSpans = spans.filter((span) => span.name === "Convocore.attempt")
        assert.strictEqual(attemptSpans.length, sent.length)
        assert.isTrue(
          attemptSpans.every((span) => typeof span.attributes.get("convocore.region") === "string")
        )
        assert.isTrue(
          attemptSpans.every((span) => typeof span.attributes.get("convocore.attempt") === "number")
        )
        assert.isTrue(spans.some((span) => span.name === "Convocore.getConversation"))
        for (const span of spans) {
          for (const [key, value] of span.attributes) {
            assert.notInclude(`${key}=${String(value)}`, SECRET, `span ${span.name}`)
          }
        }
        for (const line of lines) assert.notInclude(line, SECRET)
      }).pipe(Effect.provide(layer))
    })
  }

  it.effect("a status attribute is set on attempts that got one", () => {
    const { layer } = clientLayer((_, n) => (n === 1 ? errorReply(503) : ok()))
    const spans: Array<Tracer.Span> = []
    return Effect.gen(function* () {
      const recording = yield* recordingTracer(spans)
      yield* runTraced().pipe(Effect.withTracer(recording))
      const statuses = spans
        .filter((span) => span.name === "Convocore.attempt")
        .map((span) => span.attributes.get("http.response.status_code"))
      assert.deepStrictEqual(statuses, [503, 200])
    }).pipe(Effect.provide(layer))
  })
})
