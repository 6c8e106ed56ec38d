import type { Conversation } from "@convocore-effect/schema"
import { assert, describe, it } from "@effect/vitest"
import * as LeadCard from "../src/LeadCard.js"

const lead: Conversation = {
  ID: "c1",
  userName: "Ada Lovelace",
  userEmail: "ada@example.com",
  userCompany: "Engines Ltd",
  stage: "demo_req",
  state: "human-chatting",
  origin: "whatsapp",
  tags: ["vip"],
  leadScore: 72,
  hotLabel: "hot",
  ts: 1_700_000_000,
  firstMessageTS: 1_699_990_000,
  handoffHistory: [{ requestedAt: 1_700_000_100, acceptedBy: "agent-7" }],
  crmActivities: [{ type: "Call", title: "Intro call", date: 1_700_000_200, completed: true }]
}

describe("LeadCard", () => {
  it("shows the lead's name, contact, pipeline, score, handoffs and CRM activities", () => {
    const card = LeadCard.render(lead, LeadCard.plain)
    assert.match(card, /^Ada Lovelace\n/)
    assert.match(card, /email\s+ada@example\.com/)
    assert.match(card, /company\s+Engines Ltd/)
    assert.match(card, /stage\s+demo_req/)
    assert.match(card, /origin\s+whatsapp/)
    assert.match(card, /score\s+lead 72, hot/)
    assert.match(card, /accepted by agent-7/)
    assert.match(card, /Call: Intro call .* \(done\)/)
    assert.include(card, `${"started".padEnd(14)}${LeadCard.localDate(1_699_990_000)}\n`)
  })

  it("shows when the conversation started (its first message, not the record's ts), with the time zone", () => {
    assert.notStrictEqual(LeadCard.localDate(1_699_990_000), LeadCard.localDate(1_700_000_000))
    assert.include(
      LeadCard.render({ ts: 1_700_000_000 }, LeadCard.plain),
      LeadCard.localDate(1_700_000_000) ?? "-"
    )
    assert.match(LeadCard.localDate(1_700_000_000, "UTC") ?? "", /2023.*UTC$/)
    assert.match(LeadCard.localDate(1_700_000_000, "Asia/Kolkata") ?? "", /GMT\+5:30$/)
  })

  it("colours only a terminal, and never when NO_COLOR is set", () => {
    assert.strictEqual(LeadCard.styleFor(true, {}), LeadCard.colors)
    assert.strictEqual(LeadCard.styleFor(false, {}), LeadCard.plain)
    assert.strictEqual(LeadCard.styleFor(true, { NO_COLOR: "1" }), LeadCard.plain)
    assert.include(LeadCard.render(lead, LeadCard.colors), "\u001b[1m")
  })

  it("reads timestamps past 1e12 as milliseconds", () => {
    assert.strictEqual(LeadCard.localDate(1_700_000_000_000), LeadCard.localDate(1_700_000_000))
    assert.isUndefined(LeadCard.localDate(undefined))
  })
})
