/**
 * Decoding at validator speed, with Effect's errors.
 *
 * A schema with no transformation decodes a value into itself: decoding is only validation. For such a
 * schema we compile its own JSON Schema (`JSONSchema.make`, so the Effect schema stays the single source
 * of truth) with ajv, and a value ajv accepts is returned as it is, the same object, its key order
 * intact. A value ajv rejects goes through the Effect decoder, which produces the error message with its
 * path (and whose verdict wins, should the two ever disagree). A differential property test proves the
 * two accept the same values.
 *
 * Compiling the validator takes about 140 ms, the price of hundreds of Effect decodes: a one-shot command
 * should not pay it. So the first `compileAfter` decodes validate with the Effect decoder, and the
 * validator is compiled on the next one. Either way a valid input is returned as it is. ajv itself is
 * read only then (./LazyAjv.cts): importing this module does not evaluate it.
 */
import { Effect, Either, JSONSchema, type ParseResult, Schema } from "effect"
import loadAjv from "./LazyAjv.cjs"
import { hasTransformation } from "./Tolerance.js"

export interface FastDecoder<A> {
  readonly decodeUnknownEither: (input: unknown) => Either.Either<A, ParseResult.ParseError>
  readonly decodeUnknown: (input: unknown) => Effect.Effect<A, ParseResult.ParseError>
  /** Throws the `ParseError` on failure; for scripts and benchmarks. */
  readonly decodeUnknownSync: (input: unknown) => A
  /** Whether the compiled validator accepts the value (false when the schema has no fast path). */
  readonly isValid: (input: unknown) => boolean
  /** True when the schema has no transformation and so uses the compiled validator. */
  readonly fast: boolean
}

/**
 * The JSON Schema ajv compiles. `JSONSchema.make` marks every `unknown` with the same `$id`, which ajv
 * would read as one schema defined many times; those ids carry no constraint, so they are dropped.
 */
export const jsonSchemaOf = (schema: Schema.Schema.AnyNoContext): object =>
  JSON.parse(JSON.stringify(JSONSchema.make(schema)), (key, value) =>
    key === "$id" && value === "/schemas/unknown" ? undefined : value
  )

/** Decodes validated by the Effect decoder before the compiled validator takes over. */
export const compileAfter = 20

export const make = <A, I>(schema: Schema.Schema<A, I, never>): FastDecoder<A> => {
  // Built on first use, as the validator is: a module defines several decoders, a command runs one or two.
  let effectDecoder: ((input: unknown) => Either.Either<A, ParseResult.ParseError>) | undefined
  const decodeWithEffect = (input: unknown) => {
    effectDecoder ??= Schema.decodeUnknownEither(schema, { errors: "first" })
    return effectDecoder(input)
  }
  const fast = !hasTransformation(schema.ast)
  // Compiled on first use: CLI start-up should not pay for a validator it may never need.
  let compiled: ((input: unknown) => boolean) | undefined
  const validator = (): ((input: unknown) => boolean) => {
    compiled ??= new (loadAjv().Ajv)({ strict: false, allErrors: false, validateSchema: false }).compile(
      jsonSchemaOf(schema)
    )
    return compiled
  }
  const isValid = (input: unknown) => fast && validator()(input)
  let uses = 0
  const decodeUnknownEither = (input: unknown): Either.Either<A, ParseResult.ParseError> => {
    if (!fast) return decodeWithEffect(input)
    // With no transformation, the decoded value of a valid input is the input itself (same object, same
    // key order), whichever validator said it is valid.
    if (compiled === undefined && ++uses <= compileAfter)
      return Either.map(decodeWithEffect(input), () => input as A)
    return isValid(input) ? Either.right(input as A) : decodeWithEffect(input)
  }
  return {
    decodeUnknownEither,
    decodeUnknown: (input) =>
      Either.match(decodeUnknownEither(input), { onLeft: Effect.fail, onRight: Effect.succeed }),
    decodeUnknownSync: (input) => Either.getOrThrowWith(decodeUnknownEither(input), (error) => error),
    isValid,
    fast
  }
}
