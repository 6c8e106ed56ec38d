import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, Schema } from "effect"
import {
  AgentId,
  ConversationId,
  clampListLimit,
  conversationPath,
  ErrorBody,
  errorDetails,
  ListCursor,
  ListLimit,
  listPath,
  maxIdLength,
  maxListLimit,
  Region
} from "../src/index.js"

describe("Region", () => {
  const parse = Schema.decodeUnknownEither(Region.RegionFromString)

  it("accepts eu, na and the -gcp aliases in any case", () => {
    for (const [input, region] of [
      ["eu", "eu"],
      ["NA", "na"],
      ["eu-gcp", "eu"],
      [" Na-GCP ", "na"]
    ] as const)
      expect(parse(input)).toEqual(Either.right(region))
  })

  it("refuses anything else with a message listing what is accepted", () => {
    const result = parse("us-east")
    expect(Either.isLeft(result) && String(result.left)).toContain("expected eu, na, eu-gcp or na-gcp")
  })

  it("knows the spec's two servers and the other region", () => {
    expect(Region.specBaseUrls.eu).toBe("https://eu-gcp-api.vg-stuff.com/v3")
    expect(Region.specBaseUrls.na).toBe("https://na-gcp-api.vg-stuff.com/v3")
    expect(Region.other("eu")).toBe("na")
    expect(Region.other("na")).toBe("eu")
  })
})

describe("agent and conversation ids", () => {
  const agent = Schema.decodeUnknownEither(AgentId)
  const convo = Schema.decodeUnknownEither(ConversationId)
  const message = (result: Either.Either<unknown, unknown>) =>
    Either.isLeft(result) ? String(result.left) : ""

  it("accept every printable id: dashboard ids, API ids, phone numbers, odd characters", () => {
    for (const id of [
      "7EKgZfeuq82eFA0",
      "agent123_convo456",
      "+1 (555) 010-9999",
      "a/b?c#d%e",
      "...",
      "a..",
      "ünï 💬"
    ])
      expect({ id, accepted: Either.isRight(convo(id)) }).toEqual({ id, accepted: true })
  })

  it("refuse empty, dot segments, overlong, control characters and unpaired surrogates, saying why", () => {
    expect(message(agent(""))).toContain("agentId must not be empty")
    expect(message(agent("."))).toContain('agentId cannot be ".": it is a relative path segment')
    expect(message(convo(".."))).toContain('convoId cannot be "..": it is a relative path segment')
    expect(message(convo("x".repeat(maxIdLength + 1)))).toContain(`at most ${maxIdLength}`)
    expect(message(convo("abc\ndef"))).toContain("control character (U+000a) at position 3")
    expect(message(convo("\u0085"))).toContain("U+0085")
    expect(message(convo("a\ud800"))).toContain("unpaired surrogate")
  })

  it("say where the offending character is and how long the id is, without echoing it", () => {
    expect(message(convo("abc\ndef"))).toContain(
      "convoId contains a control character (U+000a) at position 3 (7 characters)"
    )
    expect(message(convo("ok💬\udc00z"))).toContain(
      "unpaired surrogate (not valid Unicode) at position 4 (6 characters)"
    )
    const huge = message(convo(`${"x".repeat(1_048_576)}\u0000`))
    expect(huge).toContain("convoId is 1048577 characters long; at most 512 are allowed")
    expect(huge.length).toBeLessThan(200)
  })

  it("show at most the start of a long region that is refused", () => {
    const refused = Schema.decodeUnknownEither(Region.RegionFromString)("eu".repeat(500_000))
    const text = Either.isLeft(refused) ? String(refused.left) : ""
    expect(text).toContain("…(1000000 chars): expected eu, na, eu-gcp or na-gcp")
    expect(text.length).toBeLessThan(300)
  })

  it("become exactly one percent-encoded path segment each", () => {
    const path = conversationPath(
      Schema.decodeSync(AgentId)("a/../b"),
      Schema.decodeSync(ConversationId)("c?d#e f%ü")
    )
    expect(path).toBe("/agents/a%2F..%2Fb/convos/c%3Fd%23e%20f%25%C3%BC")
    expect(path.split("/")).toHaveLength(5)
  })
})

describe("the list path and its query", () => {
  const agent = Schema.decodeSync(AgentId)
  const cursor = Schema.decodeSync(ListCursor)
  const limit = Schema.decodeSync(ListLimit)

  it("is the agent's convos path, the id one percent-encoded segment, with no query by default", () => {
    expect(listPath(agent("a/../b"))).toBe("/agents/a%2F..%2Fb/convos")
  })

  it("sends the cursor as it came, percent-encoded, then the limit; never a page", () => {
    expect(listPath(agent("agent123"), { cursor: cursor("x y&page=2"), limit: limit(5) })).toBe(
      "/agents/agent123/convos?cursor=x%20y%26page%3D2&limit=5"
    )
    expect(listPath(agent("agent123"), { limit: limit(20) })).toBe("/agents/agent123/convos?limit=20")
  })

  it.prop(
    "a URL parser reads back the same agent, cursor and limit, and no page",
    [Arbitrary.make(AgentId), Arbitrary.make(ListCursor), Arbitrary.make(ListLimit)],
    ([agentId, next, size]) => {
      const url = new URL(`http://host/v3${listPath(agentId, { cursor: next, limit: size })}`)
      const segments = url.pathname.split("/")
      expect(segments.length).toBe(5)
      expect(decodeURIComponent(segments[3] ?? "")).toBe(agentId)
      expect(url.searchParams.get("cursor")).toBe(next)
      expect(url.searchParams.get("limit")).toBe(String(size))
      expect(url.searchParams.has("page")).toBe(false)
    },
    { fastCheck: { numRuns: 300, seed: 12 } }
  )

  it("accepts limits 1..20 as whole numbers only, and clamps any number into them as public clients do", () => {
    const decode = Schema.decodeUnknownEither(ListLimit)
    for (const [input, ok] of [
      [1, true],
      [maxListLimit, true],
      [0, false],
      [21, false],
      [2.5, false],
      ["5", false]
    ] as const)
      expect({ input, ok: Either.isRight(decode(input)) }).toEqual({ input, ok })
    expect([0, -3, 1, 7.9, 20, 21, 1e9, Number.NaN].map(clampListLimit)).toEqual([1, 1, 1, 7, 20, 20, 20, 20])
  })

  it("refuses an empty, overlong or unencodable cursor", () => {
    const decode = Schema.decodeUnknownEither(ListCursor)
    expect(Either.isRight(decode("eyJvIjoyMH0"))).toBe(true)
    for (const bad of ["", "x".repeat(2049), "a\ud800"]) expect(Either.isLeft(decode(bad))).toBe(true)
  })
})

describe("error bodies", () => {
  const decode = Schema.decodeUnknownSync(ErrorBody)

  it("reads the V3 shape, keeping zod's extra issue fields", () => {
    const body = decode({
      message: "Invalid input",
      code: "BAD_REQUEST",
      issues: [{ message: "Required", path: ["convoId"], code: "invalid_type" }]
    })
    expect(errorDetails(body)).toEqual({
      code: "BAD_REQUEST",
      message: "Invalid input",
      issues: [{ message: "Required", path: ["convoId"], code: "invalid_type" }]
    })
  })

  it("reads the shape of routes outside /v3", () => {
    const body = decode({ error: { code: "NOT_FOUND", message: "Route GET /v2/x not found" } })
    expect(errorDetails(body)).toEqual({
      code: "NOT_FOUND",
      message: "Route GET /v2/x not found",
      issues: []
    })
  })

  it("refuses a body that is neither", () => {
    expect(() => decode({ status: "error" })).toThrow()
  })
})
