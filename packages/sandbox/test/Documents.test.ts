import {
  Conversation,
  ConversationEnvelopeStrict,
  conversationStrictDecoder,
  seedExampleResponse
} from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { Documents, Fixtures, Sandbox } from "../src/index.js"

const strictEnvelope = Schema.decodeUnknownEither(ConversationEnvelopeStrict, { onExcessProperty: "error" })

const body = (sandbox: Sandbox.Service, agentId: string, convoId: string) =>
  Effect.map(
    sandbox.handle("eu", {
      method: "GET",
      url: `/v3/agents/${encodeURIComponent(agentId)}/convos/${encodeURIComponent(convoId)}`,
      headers: { authorization: `Bearer ${Fixtures.demoApiKey}` },
      body: ""
    }),
    (reply) => {
      if (reply._tag !== "Respond") throw new Error(`expected a response, got ${reply._tag}`)
      return { status: reply.status, text: new TextDecoder().decode(reply.body) }
    }
  )

describe("Documents", () => {
  it("generates the same document for the same (seed, agentId, convoId)", () => {
    const a = Documents.generate(7, "agent-x", "convo-1")
    const b = Documents.generate(7, "agent-x", "convo-1")
    assert.strictEqual(JSON.stringify(a), JSON.stringify(b))
    assert.strictEqual(a.ID, "convo-1")
    assert.strictEqual(a.userID, "convo-1")
  })

  it("generates different documents for a different convoId, agentId or seed", () => {
    const base = JSON.stringify(Documents.generate(7, "agent-x", "convo-1"))
    assert.notStrictEqual(JSON.stringify(Documents.generate(7, "agent-x", "convo-2")), base)
    assert.notStrictEqual(JSON.stringify(Documents.generate(7, "agent-y", "convo-1")), base)
    assert.notStrictEqual(JSON.stringify(Documents.generate(8, "agent-x", "convo-1")), base)
    assert.notStrictEqual(Documents.hashSeed(1, "ab", "c"), Documents.hashSeed(1, "a", "bc"))
  })

  for (const [name, generate] of [
    ["generate", Documents.generate],
    ["generateFuzz", Documents.generateFuzz]
  ] as const)
    it(`${name}: documents pass the strict schema after a JSON round trip, their times in order`, () => {
      for (let i = 0; i < 300; i++) {
        const document = generate(i % 5, `agent-${i % 7}`, `convo-${i}`)
        const decoded = conversationStrictDecoder.decodeUnknownEither(JSON.parse(JSON.stringify(document)))
        if (Either.isLeft(decoded)) assert.fail(`convo-${i}: ${decoded.left.message}`)
        assert.strictEqual(
          JSON.stringify(generate(i % 5, `agent-${i % 7}`, `convo-${i}`)),
          JSON.stringify(document)
        )
        const firstMessageTS = Number(document.firstMessageTS)
        const ts = Number(document.ts)
        const lastMessageTS = Number(document.lastMessageTS)
        const lastModified = Number(document.lastModified)
        assert.isAtLeast(firstMessageTS, 1_700_000_000)
        assert.isAtMost(firstMessageTS, ts)
        assert.isAtMost(ts, lastMessageTS)
        assert.isAtMost(lastMessageTS, lastModified)
      }
    })

  it("generates plausible leads: names, emails, phones, companies, tags and CRM activity in order", () => {
    const leads = Array.from({ length: 200 }, (_, i) => Documents.generate(1, "agent123", `lead-${i}`))
    for (const lead of leads) {
      assert.match(lead.userName ?? "", /^\p{Lu}\p{Ll}+ \p{Lu}\p{Ll}+$/u)
      assert.match(lead.userEmail ?? "", /^[a-z]+\.[a-z]+@[a-z-]+(\.[a-z]+)+$/)
      assert.match(lead.userPhone ?? "", /^\+\d{1,3} \d{1,3} \d{3} \d{4}$/)
      assert.match(lead.userCompany ?? "", /^[A-Z][\w &]+$/)
      assert.include(["EUR", "USD", "GBP"], lead.currency)
      assert.isAbove((lead.tags ?? []).length, 0)
      const dates = (lead.crmActivities ?? []).map((activity) => Number(activity.date))
      assert.isAbove(dates.length, 0)
      assert.deepStrictEqual(
        dates,
        [...dates].sort((a, b) => a - b)
      )
      for (const date of dates) {
        assert.isAtLeast(date, lead.ts ?? Number.POSITIVE_INFINITY)
        assert.isAtMost(date, lead.lastMessageTS ?? 0)
      }
      assert.strictEqual(lead.assignedTo?.userId, lead.chatAssignedTo)
    }
    // Varied, not one lead repeated.
    assert.isAbove(new Set(leads.map((lead) => lead.userName)).size, 100)
    assert.isAbove(new Set(leads.map((lead) => lead.userCompany)).size, 8)
  })

  it.effect(
    "serves the same bytes from two sandboxes with the same seed, different bytes with another seed",
    () =>
      Effect.gen(function* () {
        const one = yield* Sandbox.make({ seed: 42 })
        const two = yield* Sandbox.make({ seed: 42 })
        const other = yield* Sandbox.make({ seed: 43 })
        const first = yield* body(one, "agent-x", "7EKgZfeuq82eFA1")
        assert.strictEqual(first.status, 200)
        assert.strictEqual((yield* body(two, "agent-x", "7EKgZfeuq82eFA1")).text, first.text)
        assert.notStrictEqual((yield* body(other, "agent-x", "7EKgZfeuq82eFA1")).text, first.text)
        assert.notStrictEqual((yield* body(one, "agent-x", "7EKgZfeuq82eFA2")).text, first.text)
        assert.isTrue(Either.isRight(strictEnvelope(JSON.parse(first.text))))
      })
  )

  it.effect("serves every document fixture as a strict envelope, the seed's example byte for byte", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox.make()
      const seed = yield* body(sandbox, Fixtures.demoAgent, Fixtures.ids.seedExample)
      assert.strictEqual(seed.text, JSON.stringify(seedExampleResponse))
      for (const id of [
        Fixtures.ids.dashboard,
        Fixtures.ids.apiCreated,
        Fixtures.ids.voiceCall,
        Fixtures.ids.minimal
      ]) {
        const got = yield* body(sandbox, Fixtures.demoAgent, id)
        assert.strictEqual(got.status, 200)
        const decoded = strictEnvelope(JSON.parse(got.text))
        if (Either.isLeft(decoded)) assert.fail(`${id}: ${decoded.left.message}`)
      }
    })
  )

  it("shapes the fixtures like the real API: ids, userIDs, call data, an envelope without data", () => {
    const data = (id: string) => {
      const fixture = Fixtures.lookup(Fixtures.demoAgent, id)
      if (fixture?._tag !== "Document") throw new Error(`${id} is not a document fixture`)
      return Schema.decodeUnknownSync(Conversation)(fixture.data)
    }
    assert.match(Fixtures.ids.dashboard, /^[A-Za-z0-9]{15}$/)
    assert.strictEqual(data(Fixtures.ids.dashboard).ID, Fixtures.ids.dashboard)
    const api = data(Fixtures.ids.apiCreated)
    assert.isTrue(Fixtures.ids.apiCreated.startsWith(`${Fixtures.demoAgent}_`))
    assert.strictEqual(api.userID, api.ID)
    const call = data(Fixtures.ids.voiceCall)
    assert.match(call.userID ?? "", /^\+\d+$/)
    assert.isDefined(call.vapi)
    assert.isDefined(call.voice)
    assert.isDefined(call.detailedCost)
    const minimal = Fixtures.lookup("any-agent", Fixtures.ids.minimal)
    assert.deepStrictEqual(minimal, {
      _tag: "Envelope",
      envelope: { success: true, message: "Conversation retrieved successfully" }
    })
    assert.isUndefined(Fixtures.lookup(Fixtures.demoAgent, "__proto__"))
    assert.isUndefined(Fixtures.lookup(Fixtures.demoAgent, "constructor"))
  })
})
