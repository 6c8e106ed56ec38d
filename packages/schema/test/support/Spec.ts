/**
 * The upstream OpenAPI document (the seed's YAML, kept verbatim as a fixture) and what the tests read
 * from it: the 200 response schema converted to JSON Schema, and an ajv validator compiled from it.
 */
import { readFileSync } from "node:fs"
import { openapiSchemaToJsonSchema } from "@openapi-contrib/openapi-schema-to-json-schema"
import { Ajv } from "ajv"
import { parse } from "yaml"

export interface JsonSchemaNode {
  readonly type?: string | ReadonlyArray<string> | undefined
  readonly properties?: Readonly<Record<string, JsonSchemaNode>> | undefined
  readonly required?: ReadonlyArray<string> | undefined
  readonly items?: JsonSchemaNode | undefined
  readonly additionalProperties?: boolean | JsonSchemaNode | undefined
  readonly enum?: ReadonlyArray<unknown> | undefined
  readonly anyOf?: ReadonlyArray<JsonSchemaNode> | undefined
  readonly default?: unknown | undefined
}

const openapi = parse(readFileSync(new URL("../fixtures/openapi.yaml", import.meta.url), "utf8"))

const response200: object =
  openapi.paths["/agents/{agentId}/convos/{convoId}"].get.responses["200"].content["application/json"].schema

/**
 * The 200 response (the envelope) as JSON Schema; OpenAPI's `nullable` becomes `type: [t, "null"]`.
 * The converter labels it draft-04; nothing in it differs under draft-07, which ajv 8 speaks.
 */
const { $schema: _draft04, ...converted }: JsonSchemaNode & { readonly $schema?: string } = JSON.parse(
  // Through JSON: the converter types its output as draft-04 in full; we read only the subset above.
  JSON.stringify(openapiSchemaToJsonSchema(response200))
)
export const responseJsonSchema: JsonSchemaNode = converted

export const dataJsonSchema: JsonSchemaNode = responseJsonSchema.properties!.data!

const ajv = new Ajv({ strict: false, allErrors: true })
/** A validator compiled from the spec alone, independent of our Effect schemas. */
export const specValidatesData = ajv.compile(dataJsonSchema)
export const specValidatesResponse = ajv.compile(responseJsonSchema)

/** One line per property path, `a.b`, `a[].b` for array items, `a{}.b` for map values. */
export interface SpecProperty {
  readonly path: string
  readonly required: boolean
  readonly nullable: boolean
  readonly enum: ReadonlyArray<string> | undefined
}

export const specProperties = (root: JsonSchemaNode): ReadonlyArray<SpecProperty> => {
  const out: Array<SpecProperty> = []
  const walk = (node: JsonSchemaNode, prefix: string) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = `${prefix}${key}`
      const types = typeof child.type === "string" ? [child.type] : (child.type ?? [])
      out.push({
        path,
        required: node.required?.includes(key) ?? false,
        nullable: types.includes("null"),
        enum: child.enum?.filter((v): v is string => typeof v === "string")
      })
      walk(child, `${path}.`)
      if (child.items !== undefined) walk(child.items, `${path}[].`)
      if (typeof child.additionalProperties === "object") walk(child.additionalProperties, `${path}{}.`)
    }
  }
  walk(root, "")
  return out
}
