import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as FieldPaths from "../src/FieldPaths.js"

const parse = (text: string) => Either.getOrThrow(FieldPaths.parse(text))

describe("FieldPaths", () => {
  it("parses comma-separated dotted paths, trimming spaces", () => {
    assert.deepStrictEqual(parse("userName, assignedTo.name"), [["userName"], ["assignedTo", "name"]])
  })

  it("refuses empty names and segments, and duplicates", () => {
    assert.isTrue(Either.isLeft(FieldPaths.parse("a,,b")))
    assert.isTrue(Either.isLeft(FieldPaths.parse("a..b")))
    assert.isTrue(Either.isLeft(FieldPaths.parse("a.")))
    assert.isTrue(Either.isLeft(FieldPaths.parse("a,a")))
  })

  it("echoes at most the start of a long refused path", () => {
    const long = "x".repeat(1_048_576)
    for (const text of [`${long},,`, `${long}..`, `${long},${long}`]) {
      const message = Either.getLeft(FieldPaths.parse(text)).pipe((o) => (o._tag === "Some" ? o.value : ""))
      assert.include(message, "…(")
      assert.isBelow(message.length, 300)
    }
  })

  const document = {
    userName: "Ada",
    assignedTo: { name: "Bo", email: "bo@x" },
    tags: ["a", "b"],
    crmActivities: [
      { type: "Call", title: "intro" },
      { type: "Email", note: "sent" }
    ],
    summary: null,
    __proto__x: 1
  }

  it("selects paths with their nesting, in the order given, leaving out what is absent", () => {
    const selected = FieldPaths.select(document, parse("assignedTo.name,userName,missing,assignedTo.nope"))
    assert.deepStrictEqual(selected, { assignedTo: { name: "Bo" }, userName: "Ada" })
    assert.deepStrictEqual(Object.keys(selected as object), ["assignedTo", "userName"])
  })

  it("keeps nulls the document carries", () => {
    assert.deepStrictEqual(FieldPaths.select(document, parse("summary")), { summary: null })
  })

  it("applies a path into an array to each element; a number picks one", () => {
    assert.deepStrictEqual(FieldPaths.select(document, parse("crmActivities.type,crmActivities.title")), {
      crmActivities: [{ type: "Call", title: "intro" }, { type: "Email" }]
    })
    assert.deepStrictEqual(FieldPaths.select(document, parse("tags.1")), { tags: ["b"] })
    assert.deepStrictEqual(FieldPaths.get(document, ["crmActivities", "type"]), ["Call", "Email"])
    assert.strictEqual(FieldPaths.get(document, ["tags", "0"]), "a")
  })

  it("treats __proto__ as an ordinary key", () => {
    const parsed = JSON.parse('{"__proto__":{"polluted":true},"a":1}')
    const selected = FieldPaths.select(parsed, parse("__proto__"))
    assert.strictEqual(JSON.stringify(selected), '{"__proto__":{"polluted":true}}')
    assert.isUndefined(({} as Record<string, unknown>).polluted)
    assert.isUndefined(FieldPaths.get({}, ["constructor"]))
  })
})
