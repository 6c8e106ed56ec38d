import { assert, describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import {
  Conversation,
  ConversationEnvelope,
  ConversationStrict,
  conversationDecoder,
  conversationEnvelopeDecoder,
  conversationStrictDecoder,
  Drift,
  seedExampleResponse,
  specDefaults,
  withSpecDefaults
} from "../src/index.js"
import { leftOrFail, rightOrFail } from "./support/Results.js"

const decode = Schema.decodeUnknownEither(Conversation)
const decodeStrict = Schema.decodeUnknownEither(ConversationStrict)
const encode = Schema.encodeSync(Conversation)
/** What a JSON client would see: the value written out and read back. */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
const seed = seedExampleResponse.data

describe("the seed's example response", () => {
  it("decodes, and encodes back to an equal JSON value", () => {
    const decoded = rightOrFail(Schema.decodeUnknownEither(ConversationEnvelope)(asJson(seedExampleResponse)))
    expect(asJson(Schema.encodeSync(ConversationEnvelope)(decoded))).toEqual(asJson(seedExampleResponse))
    expect(decoded.data?.userName).toBe("John Doe")
  })

  it("passes the strict schema: the documentation's example is exactly per spec", () => {
    rightOrFail(decodeStrict(asJson(seed)))
    expect(Drift.conversationDrift(seed)).toEqual([])
  })

  it("is returned unchanged by the fast decoder, the same object with its key order", () => {
    const input = asJson(seedExampleResponse)
    const decoded = rightOrFail(conversationEnvelopeDecoder.decodeUnknownEither(input))
    assert.strictEqual(decoded, input)
    expect(JSON.stringify(decoded)).toBe(JSON.stringify(seedExampleResponse))
  })
})

describe("the tolerant reader loses nothing", () => {
  const drifted = {
    ...seed,
    cached: true,
    summary: null,
    handoffHistory: [{ requestedAt: 1, acceptedBy: "a1", slaBreached: true }],
    crmActivities: [
      { type: "Call", title: "Intro", sentiment: "positive", notesHistory: [{ text: "hi", editedBy: "u2" }] }
    ],
    tokenUsage: {
      cumulativeTotalTokens: 10,
      usagePerModel: { "gpt-4o": { modelId: "gpt-4o", totalTokens: 10, cachedTokens: 4 } },
      billingTier: "pro"
    }
  }

  it("keeps unknown keys at the top level and nested, through decode and encode", () => {
    for (const decoder of [decode, conversationDecoder.decodeUnknownEither]) {
      const decoded = rightOrFail(decoder(asJson(drifted)))
      expect(decoded.cached).toBe(true)
      expect(decoded.handoffHistory?.[0]?.slaBreached).toBe(true)
      expect(decoded.crmActivities?.[0]?.sentiment).toBe("positive")
      expect(decoded.crmActivities?.[0]?.notesHistory?.[0]?.editedBy).toBe("u2")
      expect(decoded.tokenUsage?.usagePerModel?.["gpt-4o"]?.cachedTokens).toBe(4)
      expect(asJson(encode(decoded))).toEqual(asJson(drifted))
    }
  })

  it("keeps a null summary as null", () => {
    const decoded = rightOrFail(decode({ ...seed, summary: null }))
    assert.strictEqual(decoded.summary, null)
    expect(encode(decoded)).toHaveProperty("summary", null)
  })

  it("invents nothing: absent spec defaults stay absent, and are offered by withSpecDefaults", () => {
    const decoded = rightOrFail(decode(asJson(seed)))
    for (const key of Object.keys(specDefaults)) expect(decoded).not.toHaveProperty(key)
    expect(Object.keys(encode(decoded)).sort()).toEqual(Object.keys(seed).sort())
    const withDefaults = withSpecDefaults(decoded)
    expect(withDefaults.leadScore).toBe(0)
    expect(withDefaults.funnelStepsMatched).toEqual([])
    expect(withDefaults.funnelNotificationSent).toBe(false)
    expect(withSpecDefaults({ ...decoded, leadScore: 42 }).leadScore).toBe(42)
  })

  it("accepts a document with no properties at all, not even ID", () => {
    expect(rightOrFail(decodeStrict({}))).toEqual({})
  })
})

describe("open enums", () => {
  const completed = { ...seed, state: "completed" }

  it("an unknown state passes the tolerant reader, fails strict, and is in the drift report", () => {
    expect(rightOrFail(decode(completed)).state).toBe("completed")
    expect(conversationDecoder.isValid(completed)).toBe(true)
    expect(String(leftOrFail(decodeStrict(completed)))).toContain('["state"]')
    expect(conversationStrictDecoder.isValid(completed)).toBe(false)
    expect(Drift.conversationDrift(completed)).toEqual([
      {
        kind: "off-spec-enum",
        path: "state",
        value: "completed",
        allowed: ["requested_chat", "human-chatting", "ai-chatting", "ended_chat"]
      }
    ])
  })

  it("nested enums are open too (a new CRM channel)", () => {
    const doc = { crmActivities: [{ type: "Voice Note", firstChannel: "TikTok" }] }
    rightOrFail(decode(doc))
    leftOrFail(decodeStrict(doc))
    expect(Drift.conversationDrift(doc).map((entry) => entry.path)).toEqual([
      "crmActivities[0].type",
      "crmActivities[0].firstChannel"
    ])
  })
})

describe("a broken contract is an error naming the path", () => {
  it("a string messagesNum fails with messagesNum in the message, in both decoders", () => {
    const broken = { ...seed, messagesNum: "5" }
    for (const decoder of [decode, conversationDecoder.decodeUnknownEither, decodeStrict]) {
      const message = String(leftOrFail(decoder(broken)))
      expect(message).toContain('["messagesNum"]')
      expect(message).toContain('actual "5"')
    }
  })

  it("a nested wrong primitive names the whole path", () => {
    const broken = { tokenUsage: { usagePerModel: { m1: { inputTokens: "many" } } } }
    const message = String(leftOrFail(conversationDecoder.decodeUnknownEither(broken)))
    expect(message).toContain('["tokenUsage"]')
    expect(message).toContain('["usagePerModel"]')
    expect(message).toContain('["m1"]')
    expect(message).toContain('["inputTokens"]')
  })

  it("NaN and Infinity are not JSON numbers", () => {
    leftOrFail(decode({ ts: Number.NaN }))
    leftOrFail(decode({ ts: Number.POSITIVE_INFINITY }))
  })

  it("null is tolerated only where a value is expected, not as a whole nested object's field type change", () => {
    rightOrFail(decode({ vapi: null, tags: null, assignedTo: { userId: null } }))
    leftOrFail(decode({ tags: [null] }))
  })
})

describe("the strict variant is exactly the spec", () => {
  it("rejects unknown keys at any depth", () => {
    leftOrFail(decodeStrict({ cached: true }))
    leftOrFail(decodeStrict({ vapi: { cost: 1, region: "eu" } }))
    rightOrFail(
      decodeStrict({ crmActivities: [{ type: "Call", metadata: { anything: [1, { deep: true }] } }] })
    )
  })

  it("rejects the tolerated nulls but keeps the spec's own nullable fields", () => {
    leftOrFail(decodeStrict({ summary: null }))
    rightOrFail(decodeStrict({ humanClaimedAt: null, pendingAiReplyAt: null }))
  })

  it("requires the nested properties the spec requires", () => {
    leftOrFail(decodeStrict({ crmActivities: [{ title: "no type" }] }))
    leftOrFail(decodeStrict({ assignedTo: { name: "no user id" } }))
    rightOrFail(decodeStrict({ assignedTo: { userId: "u1" } }))
    expect(Drift.conversationDrift({ assignedTo: { name: "x" } })).toEqual([
      { kind: "missing-required", path: "assignedTo.userId" }
    ])
  })
})

describe("the drift report", () => {
  it("lists drift in schema order, then the unknown keys of each object, and nothing for an on-spec document", () => {
    const report = Drift.conversationDrift({
      ...seed,
      summary: null,
      "odd key": 1,
      voice: { listenUrl: "u", codec: "opus" },
      crmActivities: [{ type: "Call" }, { type: "Call", extra: 1 }]
    })
    expect(report).toEqual([
      { kind: "unknown-key", path: "voice.codec" },
      { kind: "unexpected-null", path: "summary" },
      { kind: "unknown-key", path: "crmActivities[1].extra" },
      { kind: "unknown-key", path: '["odd key"]' }
    ])
    expect(Drift.conversationDrift({ funnelExtractedData: { any: "thing" } })).toEqual([])
  })
})
