/**
 * Documents the benchmarks decode: the documentation's example, and a maximal document with every
 * property of the spec set at every level and 50 CRM activities carrying notes. The maximal document is
 * generated (seeded, so every run measures the same bytes) from the upstream spec itself.
 */
import { seedExampleResponse } from "@convocore-effect/schema"
import { JSONSchemaFaker } from "json-schema-faker"
import { dataJsonSchema } from "./spec.js"

/** mulberry32: a small seeded generator so that the faker's output is the same on every run. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

export const seedExample: unknown = JSON.parse(JSON.stringify(seedExampleResponse.data))

export const maximalConversation = (activities = 50, notesPerActivity = 3): Record<string, unknown> => {
  JSONSchemaFaker.option({ random: seeded(2026), alwaysFakeOptionals: true, minItems: 1, maxItems: 3 })
  const document = JSONSchemaFaker.generate(dataJsonSchema as object) as Record<string, unknown>
  JSONSchemaFaker.option({ minItems: notesPerActivity, maxItems: notesPerActivity })
  const activity = dataJsonSchema.properties?.crmActivities?.items as object
  document.crmActivities = Array.from({ length: activities }, () => JSONSchemaFaker.generate(activity))
  // Plain JSON, as it arrives over the wire.
  return JSON.parse(JSON.stringify(document))
}
