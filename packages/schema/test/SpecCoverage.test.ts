/**
 * The Effect schema against the upstream OpenAPI document, property by property: a property the spec
 * has and the schema lacks (or the reverse), a different enum list, a different required set or a
 * different nullability fails here, whichever side changed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Conversation, ConversationEnvelope, ConversationListPage, ConversationRow } from "../src/index.js"
import { schemaProperties } from "./support/SchemaPaths.js"
import {
  dataJsonSchema,
  listResponseJsonSchema,
  responseJsonSchema,
  rowJsonSchema,
  type SpecProperty,
  specProperties
} from "./support/Spec.js"

const byPath = <T extends { readonly path: string }>(rows: ReadonlyArray<T>) =>
  new Map(rows.map((row) => [row.path, row]))

describe("the Conversation schema covers the spec's data schema", () => {
  const spec = byPath(specProperties(dataJsonSchema))
  const ours = byPath(schemaProperties(Conversation))

  it("walks a spec of the expected size (the fixture is the whole document)", () => {
    expect(spec.size).toBe(196)
  })

  it("has every property path of the spec, and none the spec lacks", () => {
    expect([...ours.keys()].sort()).toEqual([...spec.keys()].sort())
  })

  it("has the spec's enum lists, value for value and in order", () => {
    for (const [path, property] of spec) {
      expect({ path, enum: ours.get(path)?.enum }).toEqual({ path, enum: property.enum })
    }
    expect([...spec.values()].filter((p) => p.enum !== undefined).length).toBe(9)
  })

  it("marks exactly the spec's required properties (nested ones; nothing at the top level)", () => {
    const required = (rows: Map<string, { required: boolean }>) =>
      [...rows]
        .filter(([, p]) => p.required)
        .map(([path]) => path)
        .sort()
    expect(required(ours)).toEqual(required(spec))
    expect(required(spec)).toContain("crmActivities[].type")
    expect(required(spec).some((path) => !path.includes("."))).toBe(false)
  })

  it("keeps the spec's own nullable properties nullable in strict terms", () => {
    const nullable = (rows: Map<string, { nullable: boolean }>) =>
      [...rows]
        .filter(([, p]) => p.nullable)
        .map(([path]) => path)
        .sort()
    expect(nullable(ours)).toEqual(nullable(spec))
    expect(nullable(spec)).toEqual(["humanClaimedAt", "humanLastRepliedAt", "pendingAiReplyAt"])
  })
})

describe("the envelope covers the spec's response schema", () => {
  it("has success, message and data, with success and message required", () => {
    const spec = specProperties(responseJsonSchema).filter((p) => !p.path.startsWith("data."))
    const ours = schemaProperties(ConversationEnvelope).filter((p) => !p.path.startsWith("data."))
    expect(ours.map(({ path, required }) => ({ path, required }))).toEqual(
      spec.map(({ path, required }) => ({ path, required }))
    )
  })
})

describe("the ConversationRow schema covers the list spec's item schema", () => {
  const spec = specProperties(rowJsonSchema)
  const sorted = (rows: ReadonlyArray<SpecProperty>) => rows.toSorted((a, b) => a.path.localeCompare(b.path))

  it("has the spec's 70 property paths and no other, each with the spec's enum, required and nullable", () => {
    expect(spec.length).toBe(70)
    expect(sorted(schemaProperties(ConversationRow))).toEqual(sorted(spec))
    expect(spec.filter((p) => p.enum !== undefined || p.required || p.nullable).map((p) => p.path)).toEqual([
      "state"
    ])
  })

  it("types each property as the document does: a row is a projection of the document", () => {
    const document = byPath(specProperties(dataJsonSchema))
    for (const property of spec) expect(document.get(property.path)).toEqual(property)
  })
})

describe("the list page covers the spec's response schema", () => {
  const topLevel = (rows: ReadonlyArray<{ readonly path: string; readonly required: boolean }>) =>
    rows.filter((p) => !p.path.startsWith("data[].")).map(({ path, required }) => ({ path, required }))

  it("has success, message and data, all three required, plus the four keys every live page carries", () => {
    const spec = topLevel(specProperties(listResponseJsonSchema))
    expect(spec).toEqual([
      { path: "success", required: true },
      { path: "message", required: true },
      { path: "data", required: true }
    ])
    expect(topLevel(schemaProperties(ConversationListPage))).toEqual([
      ...spec,
      { path: "hasMore", required: false },
      { path: "nextCursor", required: false },
      { path: "limit", required: false },
      { path: "cached", required: false }
    ])
  })
})
