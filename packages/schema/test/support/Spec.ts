/**
 * The upstream OpenAPI documents (the seeds' YAML, kept verbatim as fixtures) and what the tests read
 * from them: each 200 response schema converted to JSON Schema, and ajv validators compiled from them.
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

/** The 200 response schema of one operation of an OpenAPI fixture, as JSON Schema. */
const responseOf = (fixture: string, path: string): JsonSchemaNode => {
  const openapi = parse(readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url), "utf8"))
  const response200: object = openapi.paths[path].get.responses["200"].content["application/json"].schema
  // OpenAPI's `nullable` becomes `type: [t, "null"]`. The converter labels its output draft-04; nothing in
  // it differs under draft-07, which ajv 8 speaks.
  const { $schema: _draft04, ...converted }: JsonSchemaNode & { readonly $schema?: string } = JSON.parse(
    // Through JSON: the converter types its output as draft-04 in full; we read only the subset above.
    JSON.stringify(openapiSchemaToJsonSchema(response200))
  )
  return converted
}

/** Get Single Conversation: the 200 response (the envelope) and its `data`, the document. */
export const responseJsonSchema: JsonSchemaNode = responseOf(
  "openapi.yaml",
  "/agents/{agentId}/convos/{convoId}"
)
export const dataJsonSchema: JsonSchemaNode = responseJsonSchema.properties!.data!

/** List Conversations (./fixtures/list-conversations.yaml): the page and the schema of one row. */
export const listResponseJsonSchema: JsonSchemaNode = responseOf(
  "list-conversations.yaml",
  "/agents/{agentId}/convos"
)
export const rowJsonSchema: JsonSchemaNode = listResponseJsonSchema.properties!.data!.items!

const ajv = new Ajv({ strict: false, allErrors: true })
/** Validators compiled from the spec alone, independent of our Effect schemas. */
export const specValidatesData = ajv.compile(dataJsonSchema)
export const specValidatesResponse = ajv.compile(responseJsonSchema)
export const specValidatesRow = ajv.compile(rowJsonSchema)
export const specValidatesListResponse = ajv.compile(listResponseJsonSchema)

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
