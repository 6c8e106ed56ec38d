import { assert, describe, expect, it } from "@effect/vitest"
import { Arbitrary, Schema, Struct } from "effect"
import {
  Conversation,
  ConversationListPage,
  ConversationListPageStrict,
  ConversationRow,
  ConversationRowStrict,
  ConversationStrict,
  conversationListPageDecoder,
  conversationRowDecoder,
  conversationRowKeys,
  conversationRowStrictDecoder,
  Drift
} from "../src/index.js"
import { leftOrFail, rightOrFail } from "./support/Results.js"

const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
const decodeRow = Schema.decodeUnknownEither(ConversationRow)
const decodeRowStrict = Schema.decodeUnknownEither(ConversationRowStrict)
const decodePage = Schema.decodeUnknownEither(ConversationListPage)
const decodePageStrict = Schema.decodeUnknownEither(ConversationListPageStrict)

/** The row captured from the live API (API-NOTES), in the envelope it came in. */
const capturedRow = {
  ID: "7EKgZfeuq82eFA0",
  origin: "web-chat",
  messagesNum: 5,
  ts: 1784460223,
  tags: [],
  lastMessageTS: 1784460223,
  leadScore: 0,
  funnelStepsMatched: [],
  funnelScoreHistory: [],
  funnelNotificationSent: false
}
const capturedPage = {
  success: true,
  message: "Conversations retrieved successfully",
  data: [capturedRow],
  hasMore: false,
  nextCursor: null,
  limit: 20,
  cached: true
}

describe("the captured live page", () => {
  it("decodes, keeps the row's keys the item schema does not list, and encodes back equal", () => {
    for (const decode of [decodePage, conversationListPageDecoder.decodeUnknownEither]) {
      const page = rightOrFail(decode(asJson(capturedPage)))
      expect(page.data?.[0]?.leadScore).toBe(0)
      expect(page.hasMore).toBe(false)
      assert.strictEqual(page.nextCursor, null)
      expect(asJson(Schema.encodeSync(ConversationListPage)(page))).toEqual(capturedPage)
    }
  })

  it("is returned unchanged by the fast decoder, the same object", () => {
    const input = asJson(capturedPage)
    assert.strictEqual(rightOrFail(conversationListPageDecoder.decodeUnknownEither(input)), input)
  })

  it("fails strict on the four funnel keys, which the drift report names", () => {
    expect(String(leftOrFail(decodePageStrict(capturedPage)))).toContain("leadScore")
    const unknown = ["leadScore", "funnelStepsMatched", "funnelScoreHistory", "funnelNotificationSent"]
    expect(Drift.conversationRowDrift(capturedRow)).toEqual(
      unknown.map((key) => ({ kind: "unknown-key", path: key }))
    )
    expect(Drift.listPageDrift(capturedPage).map((entry) => entry.path)).toEqual(
      unknown.map((key) => `data[0].${key}`)
    )
  })

  it("passes strict without them: the pagination keys are typed, not drift", () => {
    const onSpec = {
      ...capturedPage,
      data: [
        Struct.omit(
          capturedRow,
          "leadScore",
          "funnelStepsMatched",
          "funnelScoreHistory",
          "funnelNotificationSent"
        )
      ]
    }
    rightOrFail(decodePageStrict(onSpec))
    expect(Drift.listPageDrift(onSpec)).toEqual([])
  })
})

describe("rows are tolerant like documents", () => {
  it("an off-spec state, a null summary and an unknown nested key pass the reader and fail strict", () => {
    const row = { ID: "c1", state: "completed", summary: null, vapi: { cost: 1, region: "eu" } }
    expect(rightOrFail(decodeRow(row))).toEqual(row)
    expect(conversationRowDecoder.isValid(row)).toBe(true)
    leftOrFail(decodeRowStrict(row))
    expect(conversationRowStrictDecoder.isValid(row)).toBe(false)
    expect(Drift.conversationRowDrift(row).map((entry) => `${entry.kind}:${entry.path}`)).toEqual([
      "off-spec-enum:state",
      "unknown-key:vapi.region",
      "unexpected-null:summary"
    ])
  })

  it("a document-only property (a CRM stage) is an unknown key in a row", () => {
    const row = { ID: "c1", stage: "won" }
    expect(rightOrFail(decodeRow(row)).stage).toBe("won")
    leftOrFail(decodeRowStrict(row))
    expect(Drift.conversationRowDrift(row)).toEqual([{ kind: "unknown-key", path: "stage" }])
  })

  it("a wrong primitive in a row is an error naming the row and the property", () => {
    const page = { ...capturedPage, data: [capturedRow, { ...capturedRow, messagesNum: "5" }] }
    const message = String(leftOrFail(conversationListPageDecoder.decodeUnknownEither(page)))
    for (const step of ['["data"]', "└─ [1]", '["messagesNum"]', 'actual "5"'])
      expect(message).toContain(step)
  })

  it("accepts a row with no properties at all, under strict too", () => {
    expect(rightOrFail(decodeRowStrict({}))).toEqual({})
  })
})

describe("the page envelope", () => {
  it("keeps page keys it does not know, and reports them", () => {
    const page = { ...capturedPage, data: [], total: 99 }
    expect(rightOrFail(decodePage(page)).total).toBe(99)
    leftOrFail(decodePageStrict(page))
    expect(Drift.listPageDrift(page)).toEqual([{ kind: "unknown-key", path: "total" }])
  })

  it("tolerates a page without data, which strict refuses as the spec requires it", () => {
    const bare = { success: true, message: "ok" }
    rightOrFail(decodePage(bare))
    leftOrFail(decodePageStrict(bare))
    expect(Drift.listPageDrift(bare)).toEqual([{ kind: "missing-required", path: "data" }])
  })

  it("nextCursor is a string or null; a null hasMore is a tolerance strict refuses", () => {
    rightOrFail(decodePageStrict({ ...capturedPage, data: [], hasMore: true, nextCursor: "abc" }))
    leftOrFail(decodePage({ ...capturedPage, nextCursor: 42 }))
    rightOrFail(decodePage({ ...capturedPage, hasMore: null }))
    leftOrFail(decodePageStrict({ ...capturedPage, data: [], hasMore: null }))
  })

  it("requires success and message even in the tolerant reader, as every envelope does", () => {
    leftOrFail(decodePage({ data: [] }))
  })
})

describe("a row is the projection of a document", () => {
  it.prop(
    "the row keys of any document decode as a row, and of a strict document as a strict row",
    [Arbitrary.make(Conversation), Arbitrary.make(ConversationStrict)],
    ([tolerant, strict]) => {
      const project = (document: Conversation) => asJson(Struct.pick(document, ...conversationRowKeys))
      rightOrFail(decodeRow(project(tolerant)))
      rightOrFail(decodeRowStrict(project(strict)))
      // The projection is not vacuous: a document-only key would make the strict row fail.
      leftOrFail(decodeRowStrict({ ...(project(strict) as object), hotScore: 1 }))
    },
    { fastCheck: { numRuns: 100, seed: 12 } }
  )
})
