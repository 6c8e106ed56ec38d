/**
 * The same listing as `specProperties`, read from an Effect schema's AST: every property path with
 * whether it is required, nullable and which enum it carries. Tolerances are read off their markers.
 */
import type { Schema, SchemaAST } from "effect"
import { Tolerance } from "../../src/index.js"
import type { SpecProperty } from "./Spec.js"

const members = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> =>
  ast._tag === "Union" ? ast.types.flatMap(members) : ast._tag === "Refinement" ? members(ast.from) : [ast]

const isNull = (ast: SchemaAST.AST) => ast._tag === "Literal" && ast.literal === null

/** Nullable per spec: a `null` the schema accepts that is not a marked tolerance. */
const nullableInSpec = (ast: SchemaAST.AST): boolean =>
  ast._tag === "Union" &&
  ast.annotations[Tolerance.TolerantNullId] !== true &&
  ast.types.some((t) => isNull(t) || nullableInSpec(t))

const findEnum = (ast: SchemaAST.AST): ReadonlyArray<string> | undefined =>
  Tolerance.openEnumValues(ast) ??
  (ast._tag === "Union" ? ast.types.map(findEnum).find((v) => v !== undefined) : undefined)

export const schemaProperties = (schema: Schema.Schema.Any): ReadonlyArray<SpecProperty> => {
  const out: Array<SpecProperty> = []
  const walkType = (ast: SchemaAST.AST, prefix: string) => {
    for (const member of members(ast)) {
      if (member._tag === "TypeLiteral") {
        for (const p of member.propertySignatures) walkProperty(p, `${prefix}${String(p.name)}`)
        const index = member.indexSignatures[0]
        if (index !== undefined && index.type._tag !== "UnknownKeyword")
          walkType(index.type, `${prefix.slice(0, -1)}{}.`)
      }
      if (member._tag === "TupleType" && member.rest[0] !== undefined)
        walkType(member.rest[0].type, `${prefix.slice(0, -1)}[].`)
    }
  }
  const walkProperty = (p: SchemaAST.PropertySignature, path: string) => {
    out.push({
      path,
      required: p.annotations[Tolerance.SpecRequiredId] === true || !p.isOptional,
      nullable: nullableInSpec(p.type),
      enum: findEnum(p.type)
    })
    walkType(p.type, `${path}.`)
  }
  walkType(schema.ast, "")
  return out
}
