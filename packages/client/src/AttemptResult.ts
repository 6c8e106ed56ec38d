/**
 * What one attempt's ending means, as pure functions: an answer (status, headers, the body's bytes), a
 * transport failure or the attempt's time limit, turned into the value or a typed error and the
 * `FailureKind` that steers the call (./Decide.ts). Nothing here waits or reads a clock.
 */
import {
  BadRequest,
  ConnectFailure,
  type ConvocoreError,
  ErrorBody,
  errorDetails,
  Forbidden,
  InvalidInput,
  InvalidResponse,
  NotFound,
  RateLimited,
  Timeout,
  TransportError,
  Unauthorized,
  UpstreamServerError
} from "@convocore-effect/schema"
import type { HttpClientError } from "@effect/platform"
import { Either, Option, ParseResult, Schema } from "effect"
import type { Verdict } from "./CircuitBreaker.js"
import { classifyStatus, type FailureKind, retryAfterMs } from "./RetryPolicy.js"
import type { AttemptOutcome, Target } from "./Trail.js"

/** A response as it came off the wire, and the region it came from: the gateway answers with these bytes. */
export interface Received {
  readonly region: Target
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

/** Why a 2xx body was refused by the caller's decoder. */
export interface DecodeFailure {
  readonly path: string | undefined
  readonly message: string
}

export type Decode<A> = (body: unknown) => Either.Either<A, DecodeFailure>

/** A schema's refusal as a `DecodeFailure`: its first issue, and the path to it. */
export const decodeFailure = (error: ParseResult.ParseError): DecodeFailure => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join(".")
  return {
    path,
    message: `The response does not match the schema${path === undefined ? "" : ` at ${path}`}: ${issue?.message ?? error.message}`
  }
}

/** An input refused before anything was sent: the field, and the schema's first word on it. */
export const invalidInput = (field: string, error: ParseResult.ParseError): InvalidInput =>
  new InvalidInput({
    field,
    message: ParseResult.ArrayFormatter.formatErrorSync(error)[0]?.message ?? `${field} is invalid`
  })

export interface Succeeded<A> {
  readonly _tag: "Succeeded"
  readonly target: Target
  readonly value: A
  readonly response: Received
}

export interface Failed {
  readonly _tag: "Failed"
  readonly target: Target
  readonly outcome: AttemptOutcome
  readonly kind: FailureKind
  readonly error: ConvocoreError
  readonly retryAfterMs?: number | undefined
  /** The answer, when the upstream gave one. */
  readonly response?: Received | undefined
}

export type AttemptResult<A> = Succeeded<A> | Failed

/** Where an attempt was made: its target and number in the call. */
export interface AttemptAt {
  readonly target: Target
  readonly attempt: number
}

/**
 * Error classes validate their fields when constructed. These are built from values the client produced
 * itself (counters, statuses from the transport), and validation was a large share of a failed attempt's
 * cost, so it is skipped; the tests decode every kind of error built here.
 */
const trusted = { disableValidation: true } as const

const requestIdHeaders = ["x-request-id", "request-id", "x-correlation-id", "x-amzn-requestid", "cf-ray"]

const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)

const isJsonContentType = (value: string | undefined) =>
  value !== undefined && /^application\/([\w.+-]+\+)?json\b/i.test(value.trim())

const causeMessage = (cause: unknown): string =>
  cause instanceof Error ? cause.message || ConnectFailure.errorCode(cause) || cause.name : String(cause)

const utf8 = new TextDecoder()

/** How the breaker counts an attempt: answers that prove the region works, failures that say it does not. */
export const verdictOf = (result: AttemptResult<unknown>): Verdict => {
  if (result._tag === "Succeeded") return "success"
  switch (result.outcome) {
    case "not-found":
    case "unauthorized":
    case "forbidden":
    case "bad-request":
      return "success"
    case "connect-failed":
    case "send-failed":
    case "receive-failed":
    case "timeout":
    case "server-error":
      return "failure"
    case "invalid-response":
      // A body that is not JSON (a proxy's error page) or cut short is the region failing; a well-formed
      // body of the wrong shape is the contract breaking, which says nothing of the region's health.
      return result.error._tag === "InvalidResponse" && result.error.reason === "schema"
        ? "neutral"
        : "failure"
    default:
      return "neutral"
  }
}

/** The attempt's time limit struck; `byDeadline` when the call's deadline, not the attempt timeout, set it. */
export const timedOut = (
  at: AttemptAt,
  limits: { readonly attemptTimeoutMs: number; readonly deadlineMs: number; readonly byDeadline: boolean }
): Failed => ({
  _tag: "Failed",
  target: at.target,
  outcome: "timeout",
  // The deadline cut this attempt short: nothing is left to retry with.
  kind: limits.byDeadline ? "final" : "transient",
  error: new Timeout(
    limits.byDeadline
      ? {
          scope: "deadline",
          ms: limits.deadlineMs,
          region: at.target,
          attempt: at.attempt,
          message: `The call ran out of its ${limits.deadlineMs} ms deadline`
        }
      : {
          scope: "attempt",
          ms: limits.attemptTimeoutMs,
          region: at.target,
          attempt: at.attempt,
          message: `Attempt ${at.attempt} to ${at.target} took longer than ${limits.attemptTimeoutMs} ms`
        },
    trusted
  )
})

/** The transport could not complete the exchange: never connected, or cut while sending or receiving. */
export const transportFailed = (at: AttemptAt, error: HttpClientError.HttpClientError): Failed => {
  const connect = error._tag === "RequestError" && ConnectFailure.isConnectFailure(error.cause)
  const phase = connect ? "connect" : error._tag === "RequestError" ? "send" : "receive"
  const code = ConnectFailure.errorCode(error.cause)
  return {
    _tag: "Failed",
    target: at.target,
    outcome: connect ? "connect-failed" : phase === "send" ? "send-failed" : "receive-failed",
    kind: connect
      ? "connect"
      : error._tag === "RequestError" && error.reason !== "Transport"
        ? "final"
        : "transient",
    error: new TransportError(
      {
        region: at.target,
        attempt: at.attempt,
        phase,
        message: `${phase} to ${at.target} failed: ${causeMessage(error.cause ?? error)}${code === undefined ? "" : ` (${code})`}`
      },
      trusted
    )
  }
}

/** The bytes as JSON, or the parser's error. */
const parseJson = (bytes: Uint8Array): Either.Either<unknown, unknown> => {
  try {
    // `JSON.parse` returns `any`; widening to `unknown` keeps everything downstream checked.
    return Either.right(JSON.parse(utf8.decode(bytes)) as unknown)
  } catch (error) {
    return Either.left(error)
  }
}

/** An answer that cannot be used: its body cut short, not JSON, the wrong content type or the wrong shape. */
const invalidAnswer = (
  at: AttemptAt,
  status: number,
  requestId: string | undefined,
  reason: InvalidResponse["reason"],
  message: string,
  response: Received | undefined,
  path: string | undefined
): Failed => ({
  _tag: "Failed",
  target: at.target,
  outcome: "invalid-response",
  // A schema mismatch is the contract breaking: final. A body that is not JSON or cut short may be one
  // region's fault (a proxy's error page, a dropped connection): the other region is asked.
  kind: reason === "schema" ? "final" : "transient",
  error: new InvalidResponse(
    {
      region: at.target,
      attempt: at.attempt,
      status,
      reason,
      message,
      ...(path === undefined ? {} : { path }),
      ...(requestId === undefined ? {} : { requestId })
    },
    trusted
  ),
  response
})

/** An answer: its status, headers and body (or why the body could not be read), read against `decode`. */
export const interpret = <A>(
  at: AttemptAt,
  answer: {
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: Either.Either<Uint8Array, unknown>
  },
  decode: Decode<A>,
  nowMs: number
): AttemptResult<A> => {
  const { status, headers } = answer
  let requestId: string | undefined
  for (const name of requestIdHeaders) requestId ??= headers[name]
  // The call, for brevity below; `invalidAnswer` builds the failure only when the answer is one.
  const invalid = (
    reason: InvalidResponse["reason"],
    message: string,
    response: Received | undefined,
    path?: string
  ) => invalidAnswer(at, status, requestId, reason, message, response, path)
  if (Either.isLeft(answer.body)) {
    return invalid(
      "truncated",
      `The response body could not be read: ${causeMessage(answer.body.left)}`,
      undefined
    )
  }
  const bytes = answer.body.right
  const response: Received = { region: at.target, status, headers, body: bytes }
  const declared = headers["content-length"]
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) !== bytes.byteLength) {
    return invalid(
      "truncated",
      `The response body has ${bytes.byteLength} bytes; content-length said ${declared}`,
      response
    )
  }
  const parsed = parseJson(bytes)

  if (status >= 200 && status < 300) {
    if (!isJsonContentType(headers["content-type"])) {
      return invalid(
        "content-type",
        `Expected a JSON response, got content-type "${headers["content-type"] ?? "none"}"`,
        response
      )
    }
    if (Either.isLeft(parsed))
      return invalid("malformed-json", "The response body is not valid JSON", response)
    const decoded = decode(parsed.right)
    if (Either.isLeft(decoded)) return invalid("schema", decoded.left.message, response, decoded.left.path)
    return { _tag: "Succeeded", target: at.target, value: decoded.right, response }
  }

  const details = Either.isRight(parsed)
    ? Option.map(decodeErrorBody(parsed.right), errorDetails)
    : Option.none()
  const code = Option.getOrUndefined(Option.map(details, (d) => d.code))
  const classification = classifyStatus(status, code)
  const fields = {
    region: at.target,
    attempt: at.attempt,
    status,
    ...(code === undefined ? {} : { code }),
    message: Option.match(details, {
      onNone: () => `HTTP ${status} from ${at.target}`,
      onSome: (d) => d.message
    }),
    issues: Option.match(details, { onNone: () => [], onSome: (d) => d.issues }),
    ...(requestId === undefined ? {} : { requestId })
  }
  const hint = retryAfterMs(headers, nowMs)
  const error: ConvocoreError = (() => {
    switch (classification.outcome) {
      case "unauthorized":
        return new Unauthorized(fields, trusted)
      case "forbidden":
        return new Forbidden(fields, trusted)
      case "not-found":
        return new NotFound(fields, trusted)
      case "bad-request":
        return new BadRequest(fields, trusted)
      case "rate-limited":
        return new RateLimited({ ...fields, ...(hint === undefined ? {} : { retryAfterMs: hint }) }, trusted)
      default:
        return new UpstreamServerError(fields, trusted)
    }
  })()
  return {
    _tag: "Failed",
    target: at.target,
    outcome: classification.outcome,
    kind: classification.kind,
    error,
    retryAfterMs: hint,
    response
  }
}
