import { assert, describe, it } from "@effect/vitest"
import { Fixtures, Listing } from "../src/index.js"

const counts = (count: number) => () => count

describe("Listing", () => {
  it("ids look like dashboard ids, are reproducible, and only this agent's first `count` are listed ids", () => {
    const id = Listing.listedId(3, "agent-a", 42)
    assert.match(id, /^[0-9A-Za-z]{15}$/)
    assert.strictEqual(Listing.listedId(3, "agent-a", 42), id)
    assert.strictEqual(Listing.indexOf(3, "agent-a", id, 45), 42)
    assert.isUndefined(Listing.indexOf(3, "agent-a", id, 42), "beyond the count")
    assert.isUndefined(Listing.indexOf(3, "agent-b", id, 45), "another agent")
    assert.isUndefined(Listing.indexOf(4, "agent-a", id, 45), "another seed")
    assert.isUndefined(Listing.indexOf(3, "agent-a", `${id.slice(0, 14)}!`, 45))
    assert.notStrictEqual(Listing.listedId(3, "agent-a", 43), id)
  })

  it("pages newest ts first, the documents both routes serve carrying that ts in order", () => {
    const listing = Listing.of(1, counts(300), "agent-t")
    assert.strictEqual(listing.total, 300)
    const ids = listing.slice(0, 300)
    assert.strictEqual(new Set(ids).size, 300)
    const documents = ids.map((id) => Listing.document(1, counts(300), "agent-t", id))
    documents.forEach((document, i) => {
      assert.strictEqual(document.ID, ids[i])
      assert.isTrue((document.firstMessageTS ?? 0) <= (document.lastMessageTS ?? 0))
      assert.isTrue((document.lastMessageTS ?? 0) <= (document.lastModified ?? 0))
      if (i > 0) assert.isBelow(document.ts ?? 0, documents[i - 1]?.ts ?? 0, `row ${i}`)
    })
    assert.deepStrictEqual(listing.slice(100, 103), ids.slice(100, 103))
    assert.deepStrictEqual(listing.slice(298, 400), ids.slice(298))
  })

  it("an id that is not listed keeps the plain generated document", () => {
    const plain = Listing.document(1, counts(45), "agent-t", "c1")
    const outside = Listing.document(1, counts(45), "agent-t", Listing.listedId(1, "agent-t", 45))
    assert.strictEqual(plain.ID, "c1")
    assert.isAbove(outside.ts ?? 0, 0)
    assert.notStrictEqual(
      Listing.document(1, counts(46), "agent-t", Listing.listedId(1, "agent-t", 45)).ts,
      outside.ts,
      "once listed, the same id is moved onto the timeline"
    )
  })

  it("places the demo agent's fixtures among the generated rows by their ts; not the seed's example", () => {
    const listing = Listing.of(1, counts(45), Fixtures.demoAgent)
    const ids = listing.slice(0, listing.total)
    assert.strictEqual(listing.total, 48)
    assert.strictEqual(ids[0], Fixtures.ids.dashboard)
    assert.includeMembers([...ids], [Fixtures.ids.apiCreated, Fixtures.ids.voiceCall])
    assert.notInclude(ids, Fixtures.ids.seedExample)
    const apiCreatedAt = ids.indexOf(Fixtures.ids.apiCreated)
    const document = (id: string | undefined) => Listing.document(1, counts(45), Fixtures.demoAgent, id ?? "")
    assert.isAbove(document(ids[apiCreatedAt - 1]).ts ?? 0, 1784370000)
    assert.isBelow(document(ids[apiCreatedAt + 1]).ts ?? 0, 1784370000)
  })

  it("cursors are opaque, stable and bound to their seed and agent", () => {
    const cursor = Listing.cursorAt(1, "agent-t", 20)
    assert.notInclude(cursor, "20")
    assert.strictEqual(Listing.cursorAt(1, "agent-t", 20), cursor)
    assert.strictEqual(Listing.positionOf(1, "agent-t", cursor), 20)
    assert.isUndefined(Listing.positionOf(1, "agent-u", cursor))
    assert.isUndefined(Listing.positionOf(2, "agent-t", cursor))
    for (const forged of [
      "",
      "abc",
      "20",
      Buffer.from("20.x").toString("base64url"),
      Listing.cursorAt(1, "agent-t", 0)
    ])
      assert.isUndefined(Listing.positionOf(1, "agent-t", forged), forged)
  })

  it("lists ten million conversations without making them: a page far down is computed alone", () => {
    const listing = Listing.of(1, counts(Listing.maxCount), "agent-big")
    assert.strictEqual(listing.total, Listing.maxCount)
    const last = listing.slice(Listing.maxCount - 2, Listing.maxCount + 5)
    assert.strictEqual(last.length, 2)
    assert.strictEqual(Listing.indexOf(1, "agent-big", last[1] ?? "", Listing.maxCount), Listing.maxCount - 1)
    assert.isAbove(
      Listing.document(1, counts(Listing.maxCount), "agent-big", last[1] ?? "").ts ?? 0,
      1_600_000_000
    )
    assert.strictEqual(Listing.clampCount(-1), 0)
    assert.strictEqual(Listing.clampCount(Listing.maxCount + 1), Listing.maxCount)
  })
})
