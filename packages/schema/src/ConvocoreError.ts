/**
 * Everything that can go wrong getting a conversation, as one union of `Schema.TaggedError` classes:
 * they are `Error`s with a `_tag` to match on, and they serialize (the gateway returns them, the CLI
 * prints them as JSON) and decode back to equal values. None of them ever holds the API key.
 */
import { Schema } from "effect"
import { ErrorIssue } from "./ErrorBody.js"

/**
 * Where an attempt went, as the client names it (`eu`, `na`, or a name of its own such as `custom` for a
 * single base URL). The wire keeps it an open string: how the client routes is not part of the contract.
 */
const Target = Schema.String.annotations({ identifier: "Target" })

/**
 * A duration in milliseconds: finite as well as non-negative, because errors travel as JSON (the CLI's
 * `--format json`, the gateway's logs), where `Infinity` would become `null` and no longer decode.
 */
export const Milliseconds = Schema.Finite.pipe(Schema.nonNegative()).annotations({
  identifier: "Milliseconds"
})

/** Fields of every error the upstream answered with a status. */
const UpstreamFields = {
  region: Target,
  attempt: Schema.Int,
  status: Schema.Int,
  /** The upstream's error `code` (tRPC codes such as `NOT_FOUND`), when it sent one. */
  code: Schema.optional(Schema.String),
  message: Schema.String,
  issues: Schema.Array(ErrorIssue),
  /** The upstream request id header, when it sent one. */
  requestId: Schema.optional(Schema.String)
}

/** An id or option was refused before anything was sent. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  message: Schema.String
}) {}

/** 401: a missing, wrong or out-of-scope key (Convocore also answers 401 for some deleted resources). */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", UpstreamFields) {}

/** 403: the key may not see this, plan gates included ("Business plan or higher"). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", UpstreamFields) {}

/** 404: no such conversation in the region that answered. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", UpstreamFields) {}

/** 400 or 422: the upstream refused the request; `issues` says why. */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", UpstreamFields) {}

/** 429, or a `TOO_MANY_REQUESTS` code; `retryAfterMs` is the hint the upstream gave, if any. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  ...UpstreamFields,
  retryAfterMs: Schema.optional(Milliseconds)
}) {}

/** 5xx (and other statuses that say the server failed), after retries where they apply. */
export class UpstreamServerError extends Schema.TaggedError<UpstreamServerError>()(
  "UpstreamServerError",
  UpstreamFields
) {}

/** The connection failed: before anything was sent (`connect`), while sending, or while receiving. */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  region: Target,
  attempt: Schema.Int,
  phase: Schema.Literal("connect", "send", "receive"),
  message: Schema.String
}) {}

/** One attempt took longer than its timeout, or the whole call ran out of its deadline. */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  scope: Schema.Literal("attempt", "deadline"),
  ms: Milliseconds,
  region: Schema.optional(Target),
  attempt: Schema.optional(Schema.Int),
  message: Schema.String
}) {}

/** The upstream answered something that is not a valid response. */
export class InvalidResponse extends Schema.TaggedError<InvalidResponse>()("InvalidResponse", {
  region: Target,
  attempt: Schema.Int,
  status: Schema.Int,
  reason: Schema.Literal("malformed-json", "content-type", "truncated", "schema"),
  /** For a schema mismatch: the path of the offending field, e.g. `data.messagesNum`. */
  path: Schema.optional(Schema.String),
  message: Schema.String,
  requestId: Schema.optional(Schema.String)
}) {}

/**
 * One line of an attempt trail as it travels: where the attempt went, how it ended (the client's
 * vocabulary, e.g. `ok`, `connect-failed`, `server-error`), the status it got and how long it took. The
 * outcome is an open string so that a new routing rule in the client never breaks a reader of old errors.
 */
export const Attempt = Schema.Struct({
  region: Target,
  attempt: Schema.Int,
  outcome: Schema.String,
  status: Schema.optional(Schema.Int),
  code: Schema.optional(Schema.String),
  ms: Milliseconds
}).annotations({ identifier: "Attempt" })
export type Attempt = typeof Attempt.Type

/** Every region was tried and none answered usefully; `attempts` is the whole trail. */
export class AllRegionsFailed extends Schema.TaggedError<AllRegionsFailed>()("AllRegionsFailed", {
  attempts: Schema.Array(Attempt),
  message: Schema.String
}) {}

export const ConvocoreError = Schema.Union(
  InvalidInput,
  Unauthorized,
  Forbidden,
  NotFound,
  BadRequest,
  RateLimited,
  UpstreamServerError,
  TransportError,
  Timeout,
  InvalidResponse,
  AllRegionsFailed
).annotations({ identifier: "ConvocoreError" })
export type ConvocoreError = typeof ConvocoreError.Type
