/**
 * The resilient layer builds its errors without the constructors' field validation (a measured cost on
 * the failure path). This proves what it builds is valid all the same: every kind of error it can end a
 * call with decodes under the `ConvocoreError` schema after a JSON round trip, unchanged.
 */
import { ConvocoreError } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { runTraced } from "./services/Run.js"
import { clientLayer, errorReply, json, type Reply } from "./services/ScriptedTransport.js"

const roundTrip = (error: ConvocoreError) =>
  Schema.decodeUnknownSync(ConvocoreError)(
    JSON.parse(JSON.stringify(Schema.encodeSync(ConvocoreError)(error)))
  )

/** A fresh reply per request: a `Response` body can be read only once. */
const endings: ReadonlyArray<readonly [string, () => Reply, string, object?]> = [
  ["401", () => errorReply(401, "UNAUTHORIZED", { "x-request-id": "r-1" }), "Unauthorized"],
  ["403", () => errorReply(403, "FORBIDDEN"), "Forbidden"],
  ["404", () => errorReply(404, "NOT_FOUND"), "NotFound"],
  [
    "422 with zod issues",
    () =>
      json(422, {
        message: "bad",
        code: "BAD_REQUEST",
        issues: [{ message: "x", path: ["a"], code: "custom" }]
      }),
    "BadRequest"
  ],
  [
    "429 with a hint",
    () => errorReply(429, "TOO_MANY_REQUESTS", { "retry-after": "120" }),
    "RateLimited",
    { regionPolicy: "pinned" }
  ],
  ["503 everywhere", () => errorReply(503), "AllRegionsFailed"],
  ["503 in one region", () => errorReply(503), "UpstreamServerError", { regionPolicy: "pinned" }],
  ["refused everywhere", () => "refused", "AllRegionsFailed"],
  ["reset in one region", () => "reset", "TransportError", { regionPolicy: "pinned", maxAttempts: 1 }],
  ["hang", () => "hang", "Timeout", { regionPolicy: "pinned", maxAttempts: 1 }],
  [
    "malformed JSON",
    () => new Response("{", { headers: { "content-type": "application/json" } }),
    "InvalidResponse"
  ],
  [
    "schema mismatch",
    () => json(200, { success: true, message: "ok", data: { messagesNum: "5" } }),
    "InvalidResponse"
  ]
]

describe("errors the client builds are valid ConvocoreErrors", () => {
  for (const [name, reply, tag, options] of endings) {
    it.effect(`${name}: ${tag}, and it survives encode, JSON and decode`, () => {
      const { layer } = clientLayer(() => reply())
      return Effect.gen(function* () {
        const { result } = yield* runTraced(options)
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, tag)
          assert.deepStrictEqual(roundTrip(result.left), result.left)
        }
      }).pipe(Effect.provide(layer))
    })
  }
})
