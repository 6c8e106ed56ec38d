import { assert, describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, Schema } from "effect"
import {
  AllRegionsFailed,
  BadRequest,
  ConvocoreError,
  Forbidden,
  InvalidInput,
  InvalidResponse,
  NotFound,
  RateLimited,
  Timeout,
  TransportError,
  Unauthorized,
  UpstreamServerError
} from "../src/index.js"

const upstream = {
  region: "eu",
  attempt: 1,
  status: 404,
  code: "NOT_FOUND",
  message: "Conversation not found",
  issues: [{ message: "convoId: unknown", path: ["convoId"], code: "custom" }],
  requestId: "req-1"
} as const

const examples: ReadonlyArray<ConvocoreError> = [
  new InvalidInput({ field: "convoId", message: "convoId must not be empty" }),
  new Unauthorized({
    ...upstream,
    status: 401,
    code: "UNAUTHORIZED",
    message: "Unauthorized workspace scope"
  }),
  new Forbidden({ ...upstream, status: 403, code: "FORBIDDEN", message: "Business plan or higher" }),
  new NotFound(upstream),
  new BadRequest({ ...upstream, status: 400, code: "BAD_REQUEST" }),
  new RateLimited({ ...upstream, region: "na", status: 429, code: "TOO_MANY_REQUESTS", retryAfterMs: 2000 }),
  new UpstreamServerError({
    region: "custom",
    attempt: 4,
    status: 503,
    message: "Service Unavailable",
    issues: []
  }),
  new TransportError({
    region: "eu",
    attempt: 1,
    phase: "connect",
    message: "connect ECONNREFUSED 127.0.0.1:1"
  }),
  new Timeout({
    scope: "attempt",
    ms: 10_000,
    region: "na",
    attempt: 2,
    message: "attempt timed out after 10s"
  }),
  new Timeout({ scope: "deadline", ms: 30_000, message: "deadline of 30s exceeded" }),
  new InvalidResponse({
    region: "eu",
    attempt: 1,
    status: 200,
    reason: "schema",
    path: "data.messagesNum",
    message: 'Expected number, actual "5"'
  }),
  new AllRegionsFailed({
    message: "every region failed",
    attempts: [
      { region: "eu", attempt: 1, outcome: "connect-failed", ms: 3 },
      {
        region: "na",
        attempt: 2,
        outcome: "server-error",
        status: 503,
        code: "INTERNAL_SERVER_ERROR",
        ms: 120
      }
    ]
  })
]

const encode = Schema.encodeSync(ConvocoreError)
const decode = Schema.decodeUnknownSync(ConvocoreError)

describe("the typed error union", () => {
  it("has one distinguishable tag per case", () => {
    expect(new Set(examples.map((error) => error._tag)).size).toBe(11)
  })

  it("each error encodes to plain JSON and decodes back to an equal value of the same class", () => {
    for (const error of examples) {
      const json = JSON.parse(JSON.stringify(encode(error)))
      expect(json._tag).toBe(error._tag)
      const decoded = decode(json)
      assert.strictEqual(decoded.constructor, error.constructor)
      assert.deepStrictEqual(decoded, error)
    }
  })

  it.prop(
    "any generated error survives the JSON round trip",
    [Arbitrary.make(ConvocoreError)],
    ([error]) => {
      assert.deepStrictEqual(decode(JSON.parse(JSON.stringify(encode(error)))), error)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it("errors are Effect failures that can be matched by tag", () =>
    Effect.runPromise(
      Effect.fail(examples[3] as ConvocoreError).pipe(
        Effect.catchTag("NotFound", (error) => Effect.succeed(`${error.status} ${error.message}`)),
        Effect.catchAll(() => Effect.succeed("other")),
        Effect.map((result) => expect(result).toBe("404 Conversation not found"))
      )
    ))

  it("an error is an Error whose message is readable", () => {
    const error = examples[7]
    assert.instanceOf(error, Error)
    expect(error?.message).toBe("connect ECONNREFUSED 127.0.0.1:1")
  })
})
