/**
 * The resilient layer over a transport `HttpClient` (undici in production, a test double in tests).
 *
 * Per call it adds: the base URL by region, bearer auth from a `Redacted` key, the `User-Agent`, a timeout
 * per attempt, backoff with jitter, `Retry-After`, same-region retry, region failover, the shared
 * per-region circuit breaker, region policies, optional hedging and an overall deadline that includes the
 * waits and is never slept past. What to do after each attempt is DESIGN.md's outcome table, written down
 * in ./RetryPolicy.ts. Every attempt is a span and a line of the call's trail.
 *
 * All time goes through Effect's `Clock`, so `TestClock` drives every wait and timeout in tests.
 */
import {
  AllRegionsFailed,
  type Attempt,
  type AttemptOutcome,
  BadRequest,
  type ConvocoreError,
  ErrorBody,
  errorDetails,
  Forbidden,
  InvalidResponse,
  NotFound,
  RateLimited,
  Region,
  type Target,
  Timeout,
  TransportError,
  Unauthorized,
  UpstreamServerError
} from "@convocore-effect/schema"
import {
  HttpClient,
  type HttpClientError,
  HttpClientRequest,
  type HttpClientResponse
} from "@effect/platform"
import {
  Duration,
  Effect,
  Either,
  Fiber,
  FiberRef,
  LogLevel,
  Option,
  Random,
  Schema,
  type Tracer
} from "effect"
import { CircuitBreaker, logOpened, type Verdict } from "./CircuitBreaker.js"
import { ConvocoreConfig, type RegionPolicy } from "./ConvocoreConfig.js"
import {
  backoffMs,
  type Classification,
  classifyStatus,
  type FailureKind,
  retryAfterMs
} from "./RetryPolicy.js"
import * as TimedExchange from "./TimedExchange.js"
import { userAgent } from "./version.js"
import { withoutStackTraces } from "./withoutStackTraces.js"

/** Per-call overrides of the configuration. */
export interface CallOptions {
  /** The region to start at (and, under `pinned`, to stay in). Defaults to the configured region. */
  readonly region?: Region.Region | undefined
  readonly regionPolicy?: RegionPolicy | undefined
  readonly deadline?: Duration.DurationInput | undefined
  readonly attemptTimeout?: Duration.DurationInput | undefined
  readonly maxAttempts?: number | undefined
  /** Race the other region after this delay; `false` turns off a configured hedge. */
  readonly hedgeDelay?: Duration.DurationInput | false | undefined
}

/** Why a 2xx body was refused by the caller's decoder. */
export interface DecodeFailure {
  readonly path: string | undefined
  readonly message: string
}

export interface ResilientRequest<A> {
  /** The path below the base URL, starting with `/`, its segments already percent-encoded. */
  readonly path: string
  /** Turns a 2xx JSON body into the value; a refusal is a final `InvalidResponse` (schema). */
  readonly decode: (body: unknown) => Either.Either<A, DecodeFailure>
  /** The agent the path belongs to: the key of the `auto` policy's remembered regions. */
  readonly agentId?: string | undefined
  readonly options?: CallOptions | undefined
}

/** A call's result with its attempt trail, whatever the outcome. */
export interface Traced<A> {
  readonly result: Either.Either<A, ConvocoreError>
  readonly attempts: ReadonlyArray<Attempt>
}

type AttemptResult<A> =
  | { readonly _tag: "Ok"; readonly target: Target; readonly status: number; readonly value: A }
  | {
      readonly _tag: "Failed"
      readonly target: Target
      readonly outcome: AttemptOutcome
      readonly kind: FailureKind
      readonly error: ConvocoreError
      readonly retryAfterMs?: number | undefined
    }

/** Error codes of a transport failure where nothing reached the server: safe and fast to fail over. */
const connectCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT"
])

/** Finds an errno-style `code` in a cause chain (undici nests them; happy eyeballs aggregates them). */
const errorCode = (cause: unknown, depth = 0): string | undefined => {
  if (typeof cause !== "object" || cause === null || depth > 5) return undefined
  if ("code" in cause && typeof cause.code === "string" && cause.code.length > 0) return cause.code
  if ("errors" in cause && Array.isArray(cause.errors)) {
    for (const inner of cause.errors) {
      const code = errorCode(inner, depth + 1)
      if (code !== undefined) return code
    }
  }
  return "cause" in cause ? errorCode(cause.cause, depth + 1) : undefined
}

const causeMessage = (cause: unknown): string =>
  cause instanceof Error ? cause.message || errorCode(cause) || cause.name : String(cause)

const requestIdHeaders = ["x-request-id", "request-id", "x-correlation-id", "x-amzn-requestid", "cf-ray"]

const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)

const isJsonContentType = (value: string | undefined) =>
  value !== undefined && /^application\/([\w.+-]+\+)?json\b/i.test(value.trim())

const verdictOf = (outcome: AttemptOutcome): Verdict => {
  switch (outcome) {
    case "ok":
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
    default:
      return "neutral"
  }
}

/**
 * Error classes validate their fields when constructed. The ones built here come from values this module
 * produced itself (counters, clock readings, statuses from the transport), and validation was a large
 * share of a failed attempt's cost, so it is skipped; the tests decode every kind of error these build.
 */
const trusted = { disableValidation: true } as const

/** Bound on the `auto` policy's agent-to-region memory; the oldest entry goes first. */
const maxRememberedAgents = 10_000

export class ResilientHttpClient extends Effect.Service<ResilientHttpClient>()(
  "@convocore-effect/client/ResilientHttpClient",
  {
    scoped: Effect.gen(function* () {
      const settings = yield* ConvocoreConfig
      const transport = yield* HttpClient.HttpClient
      // The transport's own timed exchange when it offers one; else each attempt runs in a timed fiber.
      const exchangeWithin =
        TimedExchange.offeredBy(transport) ?? (yield* TimedExchange.timedByFiber(transport))
      const breaker = yield* CircuitBreaker
      const homeRegions = new Map<string, Region.Region>()

      const baseUrl = (target: Target) =>
        settings.endpoints._tag === "Single"
          ? settings.endpoints.url
          : settings.endpoints.urls[target === "custom" ? settings.region : target]
      // Built once per target: each call only appends its path to a request that already carries the headers.
      const template = (target: Target) =>
        HttpClientRequest.get(baseUrl(target)).pipe(
          HttpClientRequest.bearerToken(settings.apiKey),
          HttpClientRequest.setHeader("user-agent", userAgent),
          HttpClientRequest.acceptJson
        )
      const templates: Readonly<Record<Target, HttpClientRequest.HttpClientRequest>> = {
        eu: template("eu"),
        na: template("na"),
        custom: template("custom")
      }
      const utf8 = new TextDecoder()

      const remember = (agentId: string, region: Region.Region) => {
        homeRegions.delete(agentId)
        homeRegions.set(agentId, region)
        if (homeRegions.size > maxRememberedAgents) {
          const oldest = homeRegions.keys().next()
          if (oldest.done !== true) homeRegions.delete(oldest.value)
        }
      }

      const execute = <A>(call: ResilientRequest<A>): Effect.Effect<Traced<A>> =>
        Effect.gen(function* () {
          const options = call.options ?? {}
          const policy = options.regionPolicy ?? settings.regionPolicy
          const deadlineMs =
            options.deadline === undefined ? settings.deadlineMs : Duration.toMillis(options.deadline)
          const attemptTimeoutMs =
            options.attemptTimeout === undefined
              ? settings.attemptTimeoutMs
              : Duration.toMillis(options.attemptTimeout)
          const maxAttempts = Math.max(1, options.maxAttempts ?? settings.maxAttempts)
          const hedgeDelayMs =
            options.hedgeDelay === false
              ? undefined
              : options.hedgeDelay === undefined
                ? settings.hedgeDelayMs
                : Duration.toMillis(options.hedgeDelay)

          const remembered =
            policy === "auto" && call.agentId !== undefined ? homeRegions.get(call.agentId) : undefined
          const preferred: Target =
            settings.endpoints._tag === "Single"
              ? "custom"
              : (options.region ?? remembered ?? settings.region)
          const allowed: ReadonlyArray<Target> =
            preferred === "custom" || policy === "pinned" ? [preferred] : [preferred, Region.other(preferred)]
          const alternative = (target: Target): Target | undefined => allowed.find((t) => t !== target)

          const clock = yield* Effect.clock
          const startedAt = clock.unsafeCurrentTimeMillis()
          const deadlineAt = startedAt + deadlineMs
          const trail: Array<Attempt> = []
          const tried = new Set<Target>()
          let attempts = 0

          const runAttempt = (target: Target): Effect.Effect<AttemptResult<A>> =>
            Effect.suspend(() => {
              const n = ++attempts
              tried.add(target)
              // Synchronous clock reads: every one is the `Clock` service's (the test clock in tests).
              const start = clock.unsafeCurrentTimeMillis()
              const remaining = deadlineAt - start
              const cutByDeadline = remaining <= attemptTimeoutMs
              const limit = Math.max(0, Math.min(attemptTimeoutMs, remaining))
              const request = HttpClientRequest.appendUrl(templates[target], call.path)
              const timedOut = (): AttemptResult<A> => ({
                _tag: "Failed",
                target,
                outcome: "timeout",
                // The deadline cut this attempt short: nothing is left to retry with.
                kind: cutByDeadline ? "final" : "transient",
                error: new Timeout(
                  cutByDeadline
                    ? {
                        scope: "deadline",
                        ms: deadlineMs,
                        region: target,
                        attempt: n,
                        message: `The call ran out of its ${deadlineMs} ms deadline`
                      }
                    : {
                        scope: "attempt",
                        ms: attemptTimeoutMs,
                        region: target,
                        attempt: n,
                        message: `Attempt ${n} to ${target} took longer than ${attemptTimeoutMs} ms`
                      },
                  trusted
                )
              })
              const finish = (
                span: Tracer.Span,
                result: AttemptResult<A>
              ): Effect.Effect<AttemptResult<A>> => {
                const now = clock.unsafeCurrentTimeMillis()
                const outcome = result._tag === "Ok" ? "ok" : result.outcome
                const error = result._tag === "Failed" ? result.error : undefined
                const status =
                  result._tag === "Ok"
                    ? result.status
                    : error !== undefined && "status" in error
                      ? error.status
                      : undefined
                const code = error !== undefined && "code" in error ? error.code : undefined
                trail.push({
                  region: target,
                  attempt: n,
                  outcome,
                  ...(status === undefined ? {} : { status }),
                  ...(code === undefined ? {} : { code }),
                  ms: now - start
                })
                const opened = breaker.unsafe.record(target, verdictOf(outcome), now)
                span.attribute("convocore.outcome", outcome)
                if (status !== undefined) span.attribute("http.response.status_code", status)
                if (result._tag === "Ok") return Effect.succeed(result)
                return Effect.withFiberRuntime((fiber) => {
                  // Effect drops a debug line below the minimum level anyway; checking first also skips
                  // building its annotations, which cost more than the rest of a failed attempt's bookkeeping.
                  const debug = LogLevel.lessThanEqual(
                    fiber.getFiberRef(FiberRef.currentMinimumLogLevel),
                    LogLevel.Debug
                  )
                  return Effect.zipRight(
                    debug
                      ? Effect.logDebug("Convocore attempt failed").pipe(
                          Effect.annotateLogs({
                            region: target,
                            attempt: n,
                            outcome,
                            status: status ?? "none"
                          })
                        )
                      : Effect.void,
                    opened ? Effect.as(logOpened(target), result) : Effect.succeed(result)
                  )
                })
              }
              return Effect.useSpan(
                "Convocore.attempt",
                {
                  attributes: { "convocore.region": target, "convocore.attempt": n },
                  // The call span already points at the caller; a stack per attempt would only cost time.
                  captureStackTrace: false
                },
                (span) =>
                  exchangeWithin(request, limit).pipe(
                    Effect.map(
                      Option.match({
                        onNone: () => withoutStackTraces(timedOut),
                        onSome: ({ response, body }) =>
                          withoutStackTraces(() => interpret(response, body, target, n))
                      })
                    ),
                    Effect.catchAll((error) =>
                      Effect.succeed(withoutStackTraces(() => transportFailure(error, target, n)))
                    ),
                    Effect.flatMap((result) => finish(span, result)),
                    Effect.onInterrupt(() =>
                      Effect.sync(() => {
                        const now = clock.unsafeCurrentTimeMillis()
                        trail.push({ region: target, attempt: n, outcome: "interrupted", ms: now - start })
                        breaker.unsafe.record(target, "neutral", now)
                      })
                    ),
                    Effect.withParentSpan(span)
                  )
              )
            })

          /** What an answer means, synchronously: the body is already read (or failed to be). */
          const interpret = (
            response: HttpClientResponse.HttpClientResponse,
            body: Either.Either<ArrayBuffer, HttpClientError.ResponseError>,
            target: Target,
            n: number
          ): AttemptResult<A> => {
            const headers = response.headers
            let requestId: string | undefined
            for (const name of requestIdHeaders) requestId ??= headers[name]
            const withRequestId = requestId === undefined ? {} : { requestId }
            const status = response.status
            const invalid = (
              reason: InvalidResponse["reason"],
              message: string,
              kind: FailureKind = "final",
              path?: string
            ): AttemptResult<A> => ({
              _tag: "Failed",
              target,
              outcome: "invalid-response",
              kind,
              error: new InvalidResponse(
                {
                  region: target,
                  attempt: n,
                  status,
                  reason,
                  message,
                  ...(path === undefined ? {} : { path }),
                  ...withRequestId
                },
                trusted
              )
            })
            const declared = headers["content-length"]
            // A body cut short is a transport fault, not the server's answer: the next attempt may do better.
            if (Either.isLeft(body)) {
              return invalid(
                "truncated",
                `The response body could not be read: ${causeMessage(body.left.cause)}`,
                "transient"
              )
            }
            if (
              declared !== undefined &&
              /^\d+$/.test(declared) &&
              Number(declared) !== body.right.byteLength
            ) {
              return invalid(
                "truncated",
                `The response body has ${body.right.byteLength} bytes; content-length said ${declared}`,
                "transient"
              )
            }
            const text = utf8.decode(body.right)
            // `JSON.parse` returns `any`; widening to `unknown` keeps everything downstream checked.
            const parsed = Either.try(() => JSON.parse(text) as unknown)

            if (status >= 200 && status < 300) {
              if (!isJsonContentType(headers["content-type"])) {
                return invalid(
                  "content-type",
                  `Expected a JSON response, got content-type "${headers["content-type"] ?? "none"}"`
                )
              }
              if (Either.isLeft(parsed))
                return invalid("malformed-json", "The response body is not valid JSON")
              const decoded = call.decode(parsed.right)
              if (Either.isLeft(decoded))
                return invalid("schema", decoded.left.message, "final", decoded.left.path)
              if (policy === "auto" && call.agentId !== undefined && target !== "custom") {
                remember(call.agentId, target)
              }
              return { _tag: "Ok", target, status, value: decoded.right }
            }

            const details = Either.isRight(parsed)
              ? Option.map(decodeErrorBody(parsed.right), errorDetails)
              : Option.none()
            const code = Option.getOrUndefined(Option.map(details, (d) => d.code))
            const classification: Classification = classifyStatus(status, code)
            const fields = {
              region: target,
              attempt: n,
              status,
              ...(code === undefined ? {} : { code }),
              message: Option.match(details, {
                onNone: () => `HTTP ${status} from ${target}`,
                onSome: (d) => d.message
              }),
              issues: Option.match(details, { onNone: () => [], onSome: (d) => d.issues }),
              ...withRequestId
            }
            const hint = retryAfterMs(headers, clock.unsafeCurrentTimeMillis())
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
                  return new RateLimited(
                    { ...fields, ...(hint === undefined ? {} : { retryAfterMs: hint }) },
                    trusted
                  )
                default:
                  return new UpstreamServerError(fields, trusted)
              }
            })()
            return {
              _tag: "Failed",
              target,
              outcome: classification.outcome,
              kind: classification.kind,
              error,
              retryAfterMs: hint
            }
          }

          const transportFailure = (error: HttpClientError.HttpClientError, target: Target, n: number) => {
            const code = errorCode(error.cause)
            const connect = error._tag === "RequestError" && code !== undefined && connectCodes.has(code)
            const phase = connect ? "connect" : error._tag === "RequestError" ? "send" : "receive"
            const result: AttemptResult<A> = {
              _tag: "Failed",
              target,
              outcome: connect ? "connect-failed" : phase === "send" ? "send-failed" : "receive-failed",
              kind: connect
                ? "connect"
                : error._tag === "RequestError" && error.reason !== "Transport"
                  ? "final"
                  : "transient",
              error: new TransportError(
                {
                  region: target,
                  attempt: n,
                  phase,
                  message: `${phase} to ${target} failed: ${causeMessage(error.cause ?? error)}${code === undefined ? "" : ` (${code})`}`
                },
                trusted
              )
            }
            return result
          }

          /** The target to use when `wanted` is asked for: a region whose circuit is open is avoided if it can be. */
          const route = (wanted: Target): Target => {
            const now = clock.unsafeCurrentTimeMillis()
            if (breaker.unsafe.isAvailable(wanted, now)) return wanted
            const instead = alternative(wanted)
            if (instead !== undefined && breaker.unsafe.isAvailable(instead, now)) {
              trail.push({ region: wanted, attempt: 0, outcome: "circuit-open", ms: 0 })
              return instead
            }
            return wanted
          }
          const acquire = (target: Target) => breaker.unsafe.acquire(target, clock.unsafeCurrentTimeMillis())

          /** One attempt, or with hedging a race of the target and (after the delay) the other region. */
          const attemptAt = (target: Target): Effect.Effect<AttemptResult<A>> => {
            const other = alternative(target)
            if (hedgeDelayMs === undefined || other === undefined || attempts > 0) {
              return Effect.suspend(() => {
                acquire(target)
                return runAttempt(target)
              })
            }
            let hedgeStarted = false
            const hedge = Effect.sleep(Duration.millis(hedgeDelayMs)).pipe(
              Effect.flatMap(() => {
                if (acquire(other) === "open") return Effect.never
                hedgeStarted = true
                return runAttempt(other)
              })
            )
            return Effect.suspend(() => {
              acquire(target)
              return Effect.raceWith(runAttempt(target), hedge, {
                onSelfDone: (exit, hedgeFiber) =>
                  Effect.flatMap(exit, (primary) =>
                    primary._tag === "Ok" || !hedgeStarted
                      ? Effect.as(Fiber.interrupt(hedgeFiber), primary)
                      : Effect.map(Fiber.join(hedgeFiber), (hedged) =>
                          hedged._tag === "Ok" ? hedged : primary
                        )
                  ),
                onOtherDone: (exit, primaryFiber) =>
                  Effect.flatMap(exit, (hedged) =>
                    hedged._tag === "Ok"
                      ? Effect.as(Fiber.interrupt(primaryFiber), hedged)
                      : Fiber.join(primaryFiber)
                  )
              })
            })
          }

          const giveUp = (last: Extract<AttemptResult<A>, { _tag: "Failed" }>): ConvocoreError => {
            const regionsTried = new Set(
              trail.filter((a) => a.outcome !== "circuit-open").map((a) => a.region)
            )
            if (regionsTried.size < 2) return last.error
            const summary = trail
              .filter((a) => a.outcome !== "circuit-open")
              .map(
                (a) => `${a.region}#${a.attempt} ${a.outcome}${a.status === undefined ? "" : ` ${a.status}`}`
              )
              .join(", ")
            return new AllRegionsFailed(
              {
                attempts: [...trail],
                message: `Every region failed after ${attempts} attempts: ${summary}`
              },
              trusted
            )
          }

          const loop = Effect.gen(function* () {
            let target = route(preferred)
            let streak = 0
            let retries = 0
            while (true) {
              const result = yield* attemptAt(target)
              if (result._tag === "Ok") return Either.right(result.value)
              const at = result.target
              const other = alternative(at)
              if (result.kind === "final") return Either.left(result.error)
              if (result.kind === "not-found") {
                // Data lives in one region: only `auto` asks the other region, and only once.
                if (policy === "auto" && other !== undefined && !tried.has(other) && attempts < maxAttempts) {
                  target = other
                  streak = 0
                  continue
                }
                return Either.left(result.error)
              }
              if (attempts >= maxAttempts) return Either.left(withoutStackTraces(() => giveUp(result)))

              const now = clock.unsafeCurrentTimeMillis()
              let wanted: Target = at
              let hint: number | undefined
              if (result.kind === "connect" || result.kind === "transient") {
                wanted = other ?? at
              } else {
                streak = at === target ? streak + 1 : 1
                hint = result.retryAfterMs
                if (hint !== undefined && (hint > settings.retryAfterCapMs || now + hint >= deadlineAt)) {
                  // A wait the call cannot afford: another healthy region may answer now, else stop at once.
                  if (other !== undefined && breaker.unsafe.isAvailable(other, now)) {
                    wanted = other
                    hint = undefined
                  } else {
                    return Either.left(result.error)
                  }
                } else if (streak >= 2 && other !== undefined) {
                  wanted = other
                  hint = undefined
                }
              }
              const next = route(wanted)
              if (next !== at) streak = 0
              // A region this call has not tried yet is asked at once; going back to one waits its backoff.
              const wait = tried.has(next)
                ? Math.max(
                    backoffMs(retries++, settings.backoffBaseMs, settings.backoffMaxMs, yield* Random.next),
                    next === at ? (hint ?? 0) : 0
                  )
                : 0
              if (now + wait >= deadlineAt) return Either.left(withoutStackTraces(() => giveUp(result)))
              if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
              target = next
            }
          })

          const result = yield* loop
          return { result, attempts: [...trail] }
        })

      return { execute } as const
    }),
    dependencies: [CircuitBreaker.Default]
  }
) {}
