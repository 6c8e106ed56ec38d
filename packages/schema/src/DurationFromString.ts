/**
 * Durations as people write them in flags, environment variables and fault specs: `500ms`, `2s`, `1.5m`,
 * `1h`, or Effect's own words (`10 seconds`, `500 millis`). One grammar shared by every package, so that
 * what a README says about one setting holds for all of them. Resolution is one millisecond.
 *
 * A bare number (`5`) is ambiguous to a person (seconds? milliseconds?), so `DurationFromString` refuses
 * it with a hint to add a unit; `DurationFromMillisOrString` reads it as milliseconds, for the variables
 * documented that way.
 */
import { Duration, Either, ParseResult, Schema } from "effect"
import * as Excerpt from "./Excerpt.js"

const unitMs: Readonly<Record<string, number>> = {
  ms: 1,
  milli: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000
}

/** What every refusal ends with: the accepted forms. */
export const durationForms = 'a number with a unit, such as 500ms, 2s, 1.5m, 1h or "10 seconds"'

const form = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/

export type BareNumberMeans = "millis" | "refuse"

/**
 * Whole milliseconds, or why the text is not a duration. `bareNumber` says what a number without a unit
 * means. Zero is a duration; whether a setting allows it is that setting's rule.
 */
export const parseDurationMillis = (
  text: string,
  bareNumber: BareNumberMeans
): Either.Either<number, string> => {
  const expected = `expected ${bareNumber === "millis" ? "milliseconds (5000) or " : ""}${durationForms}`
  const trimmed = text.trim().toLowerCase()
  if (trimmed === "") return Either.left(`empty; ${expected}`)
  if (trimmed.startsWith("-")) return Either.left(`${Excerpt.quote(text)} is negative; ${expected}`)
  const match = form.exec(trimmed)
  const amount = Number(match?.[1])
  const unit = match?.[2] ?? ""
  if (match === null || !Number.isFinite(amount) || (unit !== "" && unitMs[unit] === undefined))
    return Either.left(`${Excerpt.quote(text)} is not a duration; ${expected}`)
  if (unit === "") {
    if (bareNumber === "refuse")
      return Either.left(`add a unit, e.g. ${trimmed}s or ${Math.round(amount * 1000)}ms`)
    return Either.right(Math.round(amount))
  }
  const ms = Math.round(amount * (unitMs[unit] ?? 1))
  return Number.isSafeInteger(ms)
    ? Either.right(ms)
    : Either.left(`${Excerpt.quote(text)} is too long a duration; ${expected}`)
}

/** The shortest exact text of whole milliseconds: `1h`, `2m`, `30s`, `1500ms`; it parses back the same. */
export const formatDurationMillis = (ms: number): string => {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

const make = (bareNumber: BareNumberMeans, identifier: string) =>
  Schema.transformOrFail(Schema.String, Schema.DurationFromSelf, {
    strict: true,
    decode: (text, _, ast) =>
      Either.match(parseDurationMillis(text, bareNumber), {
        onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, text, message)),
        onRight: (ms) => ParseResult.succeed(Duration.millis(ms))
      }),
    encode: (duration, _, ast) =>
      Duration.isFinite(duration)
        ? ParseResult.succeed(formatDurationMillis(Math.round(Duration.toMillis(duration))))
        : ParseResult.fail(new ParseResult.Type(ast, duration, "an infinite duration has no text form"))
  }).annotations({
    identifier,
    // One line, the refusal itself: a `Schema.Config` error reads `CONVOCORE_DEADLINE: add a unit, ...`
    // rather than a tree naming this schema.
    message: (issue) =>
      issue._tag === "Transformation" && issue.issue._tag === "Type" && issue.issue.message !== undefined
        ? issue.issue.message
        : `expected ${durationForms}`
  })

/** `500ms`, `2s`, `10 seconds`; a bare number is refused with a hint to add a unit. */
export const DurationFromString = make("refuse", "DurationFromString")

/** As `DurationFromString`, and a bare number is milliseconds (`5000` is five seconds). */
export const DurationFromMillisOrString = make("millis", "DurationFromMillisOrString")
