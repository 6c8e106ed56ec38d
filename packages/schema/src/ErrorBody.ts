/**
 * Error bodies, in both shapes the upstream host answers:
 * - the V3 routes (a tRPC-to-OpenAPI adapter): `{ message, code, issues? }`, where issue items carry
 *   more than `message` (zod's `path` and `code`);
 * - other routes on the same host: `{ error: { code, message } }`.
 */
import { Schema } from "effect"
import { LooseStruct } from "./Tolerance.js"

export const ErrorIssue = LooseStruct({ message: Schema.String }).annotations({ identifier: "ErrorIssue" })
export type ErrorIssue = typeof ErrorIssue.Type

/** The documented tRPC error codes; `code` stays an open string, since the upstream may add more. */
export const TrpcCodes = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "TIMEOUT",
  "CONFLICT",
  "PRECONDITION_FAILED",
  "PAYLOAD_TOO_LARGE",
  "METHOD_NOT_SUPPORTED",
  "TOO_MANY_REQUESTS",
  "INTERNAL_SERVER_ERROR"
] as const

export const ApiErrorBody = LooseStruct({
  message: Schema.String,
  code: Schema.String,
  issues: Schema.optional(Schema.Array(ErrorIssue))
}).annotations({ identifier: "ApiErrorBody" })
export type ApiErrorBody = typeof ApiErrorBody.Type

export const RouteErrorBody = LooseStruct({
  error: LooseStruct({ code: Schema.String, message: Schema.String })
}).annotations({ identifier: "RouteErrorBody" })
export type RouteErrorBody = typeof RouteErrorBody.Type

export const ErrorBody = Schema.Union(ApiErrorBody, RouteErrorBody).annotations({ identifier: "ErrorBody" })
export type ErrorBody = typeof ErrorBody.Type

/** One shape for both: what an error says, wherever it came from. */
export interface ErrorDetails {
  readonly code: string
  readonly message: string
  readonly issues: ReadonlyArray<ErrorIssue>
}

const isApiErrorBody = Schema.is(ApiErrorBody)

export const errorDetails = (body: ErrorBody): ErrorDetails =>
  isApiErrorBody(body)
    ? { code: body.code, message: body.message, issues: body.issues ?? [] }
    : { code: body.error.code, message: body.error.message, issues: [] }
