/**
 * Building blocks for a tolerant reader that loses nothing and invents nothing, and the derivation of
 * the strict (exactly-per-spec) schema from it.
 *
 * The tolerant schema is written once, by hand, with its types. Every place where it is looser than the
 * spec carries a marker annotation; `toStrict` removes exactly those loosenings, and the drift report
 * walks the same markers. So the tolerant schema stays the single source of truth for both.
 */
import { Schema, SchemaAST } from "effect"

/** On a Union: an open enum, `Literal(...known) | string`. Strict keeps only the known literals. */
export const OpenEnumId: unique symbol = Symbol.for("@convocore-effect/schema/OpenEnum")
/** On a Union: a `null` the spec does not allow but the real API sends. Strict drops the `null`. */
export const TolerantNullId: unique symbol = Symbol.for("@convocore-effect/schema/TolerantNull")
/** On a TypeLiteral: unknown keys are kept (an index signature). Strict drops it and rejects them. */
export const LooseStructId: unique symbol = Symbol.for("@convocore-effect/schema/LooseStruct")
/** On a property signature: required by the spec, optional in the tolerant reader. */
export const SpecRequiredId: unique symbol = Symbol.for("@convocore-effect/schema/SpecRequired")

/**
 * An enum that accepts any other string. Its type keeps the known values for completion
 * (`"a" | "b" | (string & {})`) while admitting the ones Convocore adds later.
 */
export const OpenEnum = <const Values extends ReadonlyArray<string>>(
  ...values: Values
): Schema.Schema<Values[number] | (string & {})> => {
  const union = Schema.Union(Schema.Literal(...values), Schema.String).annotations({ [OpenEnumId]: true })
  // `string & {}` is `string` at run time; the intersection only keeps the literals visible to the editor.
  return union as Schema.Schema<Values[number] | (string & {})>
}

/** The literals an open enum knows, or `undefined` when the AST is not an open enum. */
export const openEnumValues = (ast: SchemaAST.AST): ReadonlyArray<string> | undefined => {
  if (ast._tag !== "Union" || ast.annotations[OpenEnumId] !== true) return undefined
  const known = ast.types[0]
  if (known === undefined) return undefined
  const literals = known._tag === "Union" ? known.types : [known]
  return literals.flatMap((t) => (t._tag === "Literal" && typeof t.literal === "string" ? [t.literal] : []))
}

/**
 * One per schema: the conversation document has over a hundred `field(Str)`-like properties, and schemas
 * are immutable values, so they share one `S | null` and one optional property. Each is then built once
 * when the module loads (a command's start pays for every schema class made) and Effect's decoder
 * compiles each shared node once.
 */
const memoized = <S extends Schema.Schema.Any, R>(make: (schema: S) => R): ((schema: S) => R) => {
  const made = new WeakMap<S, R>()
  return (schema) => {
    const known = made.get(schema)
    if (known !== undefined) return known
    const result = make(schema)
    made.set(schema, result)
    return result
  }
}

const nullTolerant = memoized((schema: Schema.Schema.Any) =>
  Schema.NullOr(schema).annotations({ [TolerantNullId]: true })
)
const optionalNullTolerant = memoized((schema: Schema.Schema.Any) => Schema.optional(nullTolerant(schema)))

/** `S | null`, where the `null` is a tolerance (the spec says `S` alone). */
export const NullTolerant = <S extends Schema.Schema.Any>(schema: S): Schema.NullOr<S> =>
  nullTolerant(schema) as Schema.NullOr<S>

/** An optional property that also accepts the `null` the real API sends where the spec promises a value. */
export const field = <S extends Schema.Schema.Any>(schema: S): Schema.optional<Schema.NullOr<S>> =>
  optionalNullTolerant(schema) as Schema.optional<Schema.NullOr<S>>

/** A property the spec requires: optional when reading real documents, required by the strict variant. */
export const specRequired = <S extends Schema.Schema.Any>(schema: S) =>
  Schema.optional(NullTolerant(schema)).annotations({ [SpecRequiredId]: true })

const UnknownKeys = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** A struct that keeps every key it does not know, on decode and on encode. */
export const LooseStruct = <Fields extends Schema.Struct.Fields>(fields: Fields) =>
  Schema.Struct(fields, UnknownKeys).annotations({ [LooseStructId]: true })

/** True when a schema's AST contains a transformation, so decoding could change the value. */
export const hasTransformation = (ast: SchemaAST.AST): boolean => {
  const seen = new Set<SchemaAST.AST>()
  const go = (node: SchemaAST.AST): boolean => {
    if (seen.has(node)) return false
    seen.add(node)
    switch (node._tag) {
      case "Transformation":
      case "Declaration":
        return true
      case "TypeLiteral":
        return (
          node.propertySignatures.some((p) => go(p.type)) ||
          node.indexSignatures.some((i) => go(i.type) || go(i.parameter))
        )
      case "Union":
        return node.types.some(go)
      case "TupleType":
        return node.elements.some((e) => go(e.type)) || node.rest.some((r) => go(r.type))
      case "Refinement":
        return go(node.from)
      case "Suspend":
        return go(node.f())
      default:
        return false
    }
  }
  return go(ast)
}

const withoutUndefined = (ast: SchemaAST.AST): SchemaAST.AST =>
  ast._tag === "Union"
    ? SchemaAST.Union.make(
        ast.types.filter((t) => t._tag !== "UndefinedKeyword"),
        ast.annotations
      )
    : ast

const strictParseOptions: SchemaAST.ParseOptions = { onExcessProperty: "error" }

/** Removes every marked loosening: the AST of the schema exactly as the spec states it. */
export const toStrictAST = (ast: SchemaAST.AST): SchemaAST.AST => {
  switch (ast._tag) {
    case "TypeLiteral": {
      const loose = ast.annotations[LooseStructId] === true
      const properties = ast.propertySignatures.map((p) => {
        const required = p.annotations[SpecRequiredId] === true
        const type = toStrictAST(required ? withoutUndefined(p.type) : p.type)
        return new SchemaAST.PropertySignature(
          p.name,
          type,
          !required && p.isOptional,
          p.isReadonly,
          p.annotations
        )
      })
      const indexSignatures = loose
        ? []
        : ast.indexSignatures.map(
            (i) => new SchemaAST.IndexSignature(i.parameter, toStrictAST(i.type), i.isReadonly)
          )
      const annotations = loose
        ? { ...ast.annotations, [SchemaAST.ParseOptionsAnnotationId]: strictParseOptions }
        : ast.annotations
      return new SchemaAST.TypeLiteral(properties, indexSignatures, annotations)
    }
    case "Union": {
      if (ast.annotations[OpenEnumId] === true) return ast.types[0] ?? ast
      if (ast.annotations[TolerantNullId] === true) {
        const rest = ast.types.filter((t) => !(t._tag === "Literal" && t.literal === null))
        return toStrictAST(SchemaAST.Union.make(rest))
      }
      return SchemaAST.Union.make(ast.types.map(toStrictAST), ast.annotations)
    }
    case "TupleType":
      return new SchemaAST.TupleType(
        ast.elements.map((e) => new SchemaAST.OptionalType(toStrictAST(e.type), e.isOptional, e.annotations)),
        ast.rest.map((r) => new SchemaAST.Type(toStrictAST(r.type), r.annotations)),
        ast.isReadonly,
        ast.annotations
      )
    case "Refinement":
      return new SchemaAST.Refinement(toStrictAST(ast.from), ast.filter, ast.annotations)
    default:
      return ast
  }
}

/**
 * The strict variant of a tolerant schema. Its values are a subset of the tolerant schema's, so it keeps
 * the tolerant type: what it adds is rejection (closed enums, no excess keys, no tolerated nulls).
 */
export const toStrict = <A, I>(schema: Schema.Schema<A, I>): Schema.Schema<A, I> =>
  Schema.make<A, I, never>(toStrictAST(schema.ast))
