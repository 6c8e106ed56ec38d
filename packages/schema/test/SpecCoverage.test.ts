/**
 * The Effect schema against the upstream OpenAPI document, property by property: a property the spec
 * has and the schema lacks (or the reverse), a different enum list, a different required set or a
 * different nullability fails here, whichever side changed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Conversation, ConversationEnvelope } from "../src/index.js"
import { schemaProperties } from "./support/SchemaPaths.js"
import { dataJsonSchema, responseJsonSchema, specProperties } from "./support/Spec.js"

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
