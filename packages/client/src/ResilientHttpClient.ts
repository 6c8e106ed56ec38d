/**
 * The resilient layer over a transport `HttpClient` (undici in production, a test double in tests).
 *
 * Per call it adds the base URL by region, bearer auth (the configured key, or the call's own token), the
 * `User-Agent`, a time limit per attempt, retries, region failover, the shared per-region circuit breaker,
 * region policies, optional hedging, the shared rate controller's permit before each attempt
 * (./RateController.ts) and an overall deadline that includes the waits and is never slept past. Which of those happens after each attempt is decided by ./Decide.ts; what an answer means, by
 * ./AttemptResult.ts. This module only runs attempts and applies steps. Every attempt is a span and a
 * line of the call's trail.
 *
 * All time goes through Effect's `Clock`, so `TestClock` drives every wait and timeout in tests.
 */
import {
  AllRegionsFailed,
  type ConvocoreError,
  InvalidInput,
  type Region,
  Timeout
} from "@convocore-effect/schema"
import {
  HttpClient,
  type HttpClientError,
  HttpClientRequest,
  type HttpClientResponse
} from "@effect/platform"
import {
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  type Exit,
  Fiber,
  FiberRef,
  LogLevel,
  Option,
  Random,
  type Redacted
} from "effect"
import * as AttemptLimit from "./AttemptLimit.js"
import {
  type AttemptAt,
  type AttemptResult,
  type Decode,
  type Failed,
  interpret,
  type Received,
  timedOut,
  transportFailed,
  verdictOf
} from "./AttemptResult.js"
import * as AttemptSpan from "./AttemptSpan.js"
import * as AttemptTimer from "./AttemptTimer.js"
import { CircuitBreaker, logOpened } from "./CircuitBreaker.js"
import * as ClientMetrics from "./ClientMetrics.js"
import { ConvocoreConfig, type RegionPolicy } from "./ConvocoreConfig.js"
import * as Decide from "./Decide.js"
import { makeHedgeDelay } from "./HedgeDelay.js"
import { makeController, RateController } from "./RateController.js"
import { quotaResetAt } from "./RetryPolicy.js"
import * as Spans from "./Spans.js"
import type { Attempt, Target } from "./Trail.js"
import { userAgent } from "./version.js"
import { withoutStackTraces } from "./withoutStackTraces.js"

/** Per-call settings: overrides of the configuration, and what this call sends beside the path. */
export interface CallOptions {
  /** The region to start at (and, under `pinned`, to stay in). Defaults to the configured region. */
  readonly region?: Region.Region | undefined
  readonly regionPolicy?: RegionPolicy | undefined
  readonly deadline?: Duration.DurationInput | undefined
  readonly attemptTimeout?: Duration.DurationInput | undefined
  readonly maxAttempts?: number | undefined
  /**
   * Race the other region after this delay (`adaptive`: a delay learned from recent answer times); `false`
   * turns off a configured hedge.
   */
  readonly hedgeDelay?: Duration.DurationInput | "adaptive" | false | undefined
  /** The bearer token for this call, instead of the configured key (a gateway's caller's token, say). */
  readonly credentials?: Redacted.Redacted<string> | undefined
  /** Headers sent with every attempt of this call (a request id, say). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** Any GET of the API: a path, a query and a decoder for the 2xx body. */
export interface ResilientRequest<A> {
  /** The path below the base URL, starting with `/`, its segments already percent-encoded. */
  readonly path: string
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>> | undefined
  /** Turns a 2xx JSON body into the value; a refusal is a final `InvalidResponse` (schema). */
  readonly decode: Decode<A>
  /** The agent the path belongs to: the key of the `auto` policy's remembered regions. */
  readonly agentId?: string | undefined
  readonly options?: CallOptions | undefined
}

/** A call's result with its attempt trail and the answer it was read from, whatever the outcome. */
export interface Traced<A> {
  readonly result: Either.Either<A, ConvocoreError>
  readonly attempts: ReadonlyArray<Attempt>
  /**
   * The answer as received: the one the value was decoded from, or the one that ended the call in an
   * error (the last answer any region gave, for `AllRegionsFailed`); undefined when no region answered.
   */
  readonly response: Received | undefined
}

/** A hedged attempt's delay, and what to do when the exchange has no answer by then. */
interface SlowPlan<A> {
  readonly afterMs: number
  readonly onSlow: (primary: InFlight<A>) => Effect.Effect<AttemptResult<A>>
}

/** A primary attempt handed over at the hedge delay, still running. */
interface InFlight<A> {
  /** The exchange's outcome when it comes. */
  readonly late: Promise<AttemptLimit.LateOutcome>
  /** Reads an outcome of `late` as the attempt's result, and settles the attempt (trail, breaker). */
  readonly settle: (outcome: AttemptLimit.LateOutcome) => Effect.Effect<AttemptResult<A>>
  /** Aborts the exchange (when the call is interrupted, which records the attempt as interrupted). */
  readonly abandon: () => void
  /** Aborts the exchange and records the attempt as interrupted: the other region answered first. */
  readonly lost: () => void
}

/**
 * What follows the primary attempt's result in a hedged race: a hedge still waiting (asleep, or for a
 * permit) is told to stop, with nothing to wait for; a started one is interrupted after a success, and
 * awaited after a failure, its success winning.
 */
const afterPrimary = <A>(
  result: AttemptResult<A>,
  hedgeFiber: Fiber.Fiber<AttemptResult<A>>,
  hedgeStarted: boolean
): Effect.Effect<AttemptResult<A>> =>
  !hedgeStarted && Fiber.isRuntimeFiber(hedgeFiber)
    ? Effect.withFiberRuntime<AttemptResult<A>>((self) => {
        hedgeFiber.unsafeInterruptAsFork(self.id())
        return Effect.succeed(result)
      })
    : result._tag === "Succeeded" || !hedgeStarted
      ? Effect.as(Fiber.interrupt(hedgeFiber), result)
      : Effect.map(Fiber.join(hedgeFiber), (hedged) => (hedged._tag === "Succeeded" ? hedged : result))

/**
 * The race of a primary attempt handed over at the hedge delay and the hedge (`hedgeAttempt`, forked
 * now): the first success wins, as `Effect.raceWith` did over two fibers. A hedge that has not started
 * its attempt (waiting for a permit) is told to stop, with nothing to wait for; one that has is
 * interrupted and waited for, so that the trail records it.
 */
const raceLate = <A>(
  primary: InFlight<A>,
  hedgeAttempt: Effect.Effect<AttemptResult<A>>,
  hedgeStarted: () => boolean
): Effect.Effect<AttemptResult<A>> =>
  Effect.flatMap(Effect.fork(hedgeAttempt), (hedgeFiber) =>
    Effect.flatMap(
      Effect.async<
        | { readonly _tag: "Primary"; readonly outcome: AttemptLimit.LateOutcome }
        | { readonly _tag: "Hedge"; readonly exit: Exit.Exit<AttemptResult<A>> }
      >((resume) => {
        let first = true
        const onHedge = (exit: Exit.Exit<AttemptResult<A>>) => {
          if (!first) return
          first = false
          resume(Effect.succeed({ _tag: "Hedge", exit }))
        }
        primary.late.then((outcome) => {
          if (!first) return
          first = false
          hedgeFiber.removeObserver(onHedge)
          resume(Effect.succeed({ _tag: "Primary", outcome }))
        })
        hedgeFiber.addObserver(onHedge)
        // The call was interrupted: the primary exchange is given up; the hedge, a child fiber, ends with it.
        return Effect.sync(() => {
          first = false
          hedgeFiber.removeObserver(onHedge)
          primary.abandon()
        })
      }),
      (first) => {
        if (first._tag === "Primary")
          return Effect.flatMap(primary.settle(first.outcome), (result) =>
            afterPrimary(result, hedgeFiber, hedgeStarted())
          )
        return Effect.flatMap(first.exit, (hedged) => {
          if (hedged._tag === "Succeeded") {
            primary.lost()
            return Effect.succeed(hedged)
          }
          // The hedge failed: the primary's answer, when it comes (given up if the call is interrupted).
          return Effect.flatMap(
            Effect.async<AttemptLimit.LateOutcome>((resume) => {
              primary.late.then((outcome) => resume(Effect.succeed(outcome)))
              return Effect.sync(primary.abandon)
            }),
            primary.settle
          )
        })
      }
    )
  )

/** An exchange that completed: the answer's head, and its body or why the body could not be read. */
interface Exchanged {
  readonly response: HttpClientResponse.HttpClientResponse
  readonly body: Either.Either<ArrayBuffer, HttpClientError.ResponseError>
}

/** A call with nothing to authenticate with is refused before anything is sent. */
const noCredentials = new InvalidInput({
  field: "credentials",
  message: "No Convocore API key: the client has none configured and the call carries no credentials"
})

/** Bound on the `auto` policy's agent-to-region memory; the oldest entry goes first. */
const maxRememberedAgents = 10_000

const trusted = { disableValidation: true } as const

/** The error of a call that every region it could use failed: the whole trail. */
const allRegionsFailed = (trail: ReadonlyArray<Attempt>, attempts: number) =>
  withoutStackTraces(() => {
    const tried = trail.filter((a) => a.outcome !== "circuit-open")
    const summary = tried
      .map((a) => `${a.region}#${a.attempt} ${a.outcome}${a.status === undefined ? "" : ` ${a.status}`}`)
      .join(", ")
    return new AllRegionsFailed(
      { attempts: [...trail], message: `Every region failed after ${attempts} attempts: ${summary}` },
      trusted
    )
  })

export class ResilientHttpClient extends Effect.Service<ResilientHttpClient>()(
  "@convocore-effect/client/ResilientHttpClient",
  {
    scoped: Effect.gen(function* () {
      const settings = yield* ConvocoreConfig
      const transport = yield* HttpClient.HttpClient
      const breaker = yield* CircuitBreaker
      // Optional so that stacks built before the controller existed (`DefaultWithoutDependencies` with
      // their own breaker) still build; they get a controller of their own, one per layer like the rest.
      const rate = Option.getOrElse(yield* Effect.serviceOption(RateController), () =>
        makeController(settings.maxRate)
      )
      const timer = yield* AttemptTimer.make
      const learnedDelay = makeHedgeDelay()
      // Learned from each attempt: whether the transport enforces attempt limits itself (./AttemptLimit.ts).
      let transportTimesAttempts = false
      const homeRegions = new Map<string, Target>()

      const baseUrl = (target: Target) =>
        settings.endpoints._tag === "Single"
          ? settings.endpoints.url
          : settings.endpoints.urls[target === "custom" ? settings.region : target]
      // Built once per target: each call only appends its path to a request that already carries the headers.
      const template = (target: Target) =>
        HttpClientRequest.get(baseUrl(target)).pipe(
          (request) =>
            settings.apiKey === undefined ? request : HttpClientRequest.bearerToken(request, settings.apiKey),
          HttpClientRequest.setHeader("user-agent", userAgent),
          HttpClientRequest.acceptJson
        )
      const templates: Record<Target, HttpClientRequest.HttpClientRequest> = {
        eu: template("eu"),
        na: template("na"),
        custom: template("custom")
      }
      const endpoints: Record<Target, AttemptSpan.Endpoint> = {
        eu: AttemptSpan.endpointOf(baseUrl("eu")),
        na: AttemptSpan.endpointOf(baseUrl("na")),
        custom: AttemptSpan.endpointOf(baseUrl("custom"))
      }

      const remember = (agentId: string, region: Target) => {
        homeRegions.delete(agentId)
        homeRegions.set(agentId, region)
        if (homeRegions.size > maxRememberedAgents) {
          const oldest = homeRegions.keys().next()
          if (oldest.done !== true) homeRegions.delete(oldest.value)
        }
      }

      const requestFor = (target: Target, call: ResilientRequest<unknown>, options: CallOptions) => {
        let request: HttpClientRequest.HttpClientRequest = HttpClientRequest.appendUrl(
          templates[target],
          call.path
        )
        if (call.query !== undefined) {
          for (const [name, value] of Object.entries(call.query)) {
            if (value !== undefined) request = HttpClientRequest.setUrlParam(request, name, String(value))
          }
        }
        if (options.headers !== undefined) request = HttpClientRequest.setHeaders(request, options.headers)
        if (options.credentials !== undefined)
          request = HttpClientRequest.bearerToken(request, options.credentials)
        return request
      }

      const execute = <A>(call: ResilientRequest<A>): Effect.Effect<Traced<A>> =>
        // One look at the calling fiber for its clock and tracer; the steps below are plain Effect
        // combinators, since a call's cost is mostly its count of Effect operations.
        Effect.withFiberRuntime<Traced<A>>((fiber) => {
          const options = call.options ?? {}
          if (options.credentials === undefined && settings.apiKey === undefined) {
            return Effect.succeed({ result: Either.left(noCredentials), attempts: [], response: undefined })
          }
          const policy = options.regionPolicy ?? settings.regionPolicy
          const deadlineMs =
            options.deadline === undefined ? settings.deadlineMs : Duration.toMillis(options.deadline)
          const attemptTimeoutMs =
            options.attemptTimeout === undefined
              ? settings.attemptTimeoutMs
              : Duration.toMillis(options.attemptTimeout)
          const hedge =
            options.hedgeDelay === false
              ? undefined
              : options.hedgeDelay === undefined || options.hedgeDelay === "adaptive"
                ? (options.hedgeDelay ?? settings.hedgeDelayMs)
                : Duration.toMillis(options.hedgeDelay)
          const hedgeDelayFor = (target: Target) =>
            hedge === "adaptive" ? learnedDelay.delayFor(target) : hedge

          const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
          const traced = Spans.listening(fiber.currentTracer)
          const startedAt = clock.unsafeCurrentTimeMillis()
          const remembered =
            policy === "auto" && call.agentId !== undefined ? homeRegions.get(call.agentId) : undefined
          const preferred: Target =
            settings.endpoints._tag === "Single"
              ? "custom"
              : (options.region ?? remembered ?? settings.region)
          const other = preferred === "eu" ? "na" : "eu"
          const plan: Decide.CallPlan = {
            policy,
            preferred,
            allowed: preferred === "custom" || policy === "pinned" ? [preferred] : [preferred, other],
            maxAttempts: Math.max(1, options.maxAttempts ?? settings.maxAttempts),
            deadlineAt: startedAt + deadlineMs,
            retryAfterCapMs: settings.retryAfterCapMs,
            backoffBaseMs: settings.backoffBaseMs,
            backoffMaxMs: settings.backoffMaxMs
          }
          const trail: Array<Attempt> = []
          let state = Decide.initialState
          let lastAnswer: Received | undefined

          const world = (random: number): Decide.Now => {
            const now = clock.unsafeCurrentTimeMillis()
            return { now, random, isAvailable: (target) => breaker.unsafe.isAvailable(target, now) }
          }

          /**
           * Ends an attempt when its answer (or failure) is in: its trail line, the breaker's count, a
           * debug line when it failed. An attempt's fiber (a hedge's is forked) has the calling fiber's
           * FiberRefs, so the metrics switch and the log level are read from the calling fiber.
           */
          const settle = (
            at: AttemptAt,
            startMs: number,
            result: AttemptResult<A>
          ): Effect.Effect<AttemptResult<A>> => {
            const now = clock.unsafeCurrentTimeMillis()
            const outcome = result._tag === "Succeeded" ? "ok" : result.outcome
            const response = result.response
            if (response !== undefined) lastAnswer = response
            const error = result._tag === "Failed" ? result.error : undefined
            const code = error !== undefined && "code" in error ? error.code : undefined
            const line: { -readonly [K in keyof Attempt]: Attempt[K] } = {
              region: at.target,
              attempt: at.attempt,
              outcome,
              ms: now - startMs
            }
            if (response !== undefined) line.status = response.status
            if (code !== undefined) line.code = code
            trail.push(line)
            // Any answer shows how long the region takes to respond: what an adaptive hedge waits for.
            if (response !== undefined) learnedDelay.observe(at.target, now - startMs)
            const opened = breaker.unsafe.record(at.target, verdictOf(result), now)
            const metered = fiber.getFiberRef(ClientMetrics.enabled)
            if (metered)
              ClientMetrics.recordAttempt(at.target, outcome, now - startMs, breaker.unsafe.get(at.target))
            if (response !== undefined) {
              rate.record(
                at.target,
                {
                  throttled: outcome === "rate-limited",
                  sentAt: startMs,
                  spentUntil: quotaResetAt(response.headers, now)
                },
                now
              )
              if (metered) ClientMetrics.recordRate(at.target, rate.stats(at.target).rate)
            }
            if (result._tag === "Succeeded") return Effect.succeed(result)
            // Effect drops a debug line below the minimum level anyway; checking first also skips
            // building its annotations.
            const debug = LogLevel.lessThanEqual(
              fiber.getFiberRef(FiberRef.currentMinimumLogLevel),
              LogLevel.Debug
            )
            const logged = debug
              ? Effect.logDebug("Convocore attempt failed").pipe(
                  Effect.annotateLogs({
                    region: at.target,
                    attempt: at.attempt,
                    outcome,
                    status: response?.status ?? "none"
                  })
                )
              : Effect.void
            return Effect.zipRight(
              logged,
              opened ? Effect.as(logOpened(at.target), result) : Effect.succeed(result)
            )
          }

          /** Starts an attempt: call it when the attempt is to run (inside a suspend or a continuation). */
          const runAttempt = (
            target: Target,
            hedged = false,
            slow?: SlowPlan<A>
          ): Effect.Effect<AttemptResult<A>> => {
            state = Decide.started(state, target)
            const at: AttemptAt = { target, attempt: state.attempts }
            const startMs = clock.unsafeCurrentTimeMillis()
            const remaining = plan.deadlineAt - startMs
            const byDeadline = remaining <= attemptTimeoutMs
            const limitMs = Math.max(0, Math.min(attemptTimeoutMs, remaining))
            const limit: AttemptLimit.AttemptLimit = {
              ms: limitMs,
              readsWholeBody: true,
              slowAfterMs: slow?.afterMs,
              honoured: false
            }
            const request = () => transport.execute(requestFor(target, call, options))
            const timeout = () =>
              withoutStackTraces(() => timedOut(at, { attemptTimeoutMs, deadlineMs, byDeadline }))
            const answered = ({ response, body }: Exchanged) =>
              Either.isLeft(body) && AttemptLimit.isExceeded(body.left.cause)
                ? timeout()
                : withoutStackTraces(() =>
                    interpret(
                      at,
                      {
                        status: response.status,
                        headers: response.headers,
                        body: Either.map(body, (bytes) => new Uint8Array(bytes))
                      },
                      call.decode,
                      clock.unsafeCurrentTimeMillis()
                    )
                  )
            const failed = (error: HttpClientError.HttpClientError) =>
              AttemptLimit.isExceeded(error.cause)
                ? timeout()
                : withoutStackTraces(() => transportFailed(at, error))
            // An attempt is recorded once: a call interrupted after its attempt settled (a race awaiting
            // its hedge, say) leaves that line as it is.
            let ended = false
            const settled = (result: AttemptResult<A>) => {
              ended = true
              transportTimesAttempts = limit.honoured
              return settle(at, startMs, result)
            }
            /** Reads the answer's body and settles the attempt with what the answer says. */
            const read = (response: HttpClientResponse.HttpClientResponse) =>
              Effect.matchEffect(response.arrayBuffer, {
                onSuccess: (bytes) => settled(answered({ response, body: Either.right(bytes) })),
                onFailure: (error) => settled(answered({ response, body: Either.left(error) }))
              })
            const interrupted = () => {
              if (ended) return
              ended = true
              transportTimesAttempts = limit.honoured
              const now = clock.unsafeCurrentTimeMillis()
              trail.push({ region: target, attempt: at.attempt, outcome: "interrupted", ms: now - startMs })
              breaker.unsafe.record(target, "neutral", now)
            }
            /** The exchange, handed over unanswered at the hedge delay, as the race needs it. */
            const inFlight = (handed: AttemptLimit.SlowExchange): InFlight<A> => ({
              late: handed.late,
              settle: (outcome) =>
                Either.isLeft(outcome) ? settled(failed(outcome.left)) : read(outcome.right),
              abandon: handed.abandon,
              lost: () => {
                handed.abandon()
                interrupted()
              }
            })
            // A transport that has enforced the limit itself is trusted to; otherwise a timer fiber does,
            // and the limit is offered in the fiber the timer runs the exchange in.
            const attempt = transportTimesAttempts
              ? AttemptLimit.offer(
                  limit,
                  Effect.matchEffect(request(), {
                    onSuccess: read,
                    onFailure: (error) =>
                      slow !== undefined && error.cause instanceof AttemptLimit.SlowExchange
                        ? slow.onSlow(inFlight(error.cause))
                        : settled(failed(error))
                  }),
                  interrupted
                )
              : Effect.flatMap(
                  timer.timeoutOption(
                    AttemptLimit.offer(
                      limit,
                      Effect.either(
                        Effect.flatMap(request(), (response) =>
                          Effect.map(Effect.either(response.arrayBuffer), (body) => ({ response, body }))
                        )
                      )
                    ),
                    limitMs
                  ),
                  Option.match({
                    onNone: () => settled(timeout()),
                    onSome: Either.match({
                      onLeft: (error) => settled(failed(error)),
                      onRight: (exchanged) => settled(answered(exchanged))
                    })
                  })
                ).pipe(Effect.onInterrupt(() => Effect.sync(interrupted)))
            // Spans only when a tracer listens (known for the whole call: `traced`).
            if (!traced) return attempt
            return Spans.within(
              "Convocore.attempt",
              {
                attributes: AttemptSpan.startAttributes(
                  endpoints[target],
                  call.path,
                  target,
                  at.attempt,
                  hedged
                ),
                kind: "client",
                // The call span already points at the caller; a stack per attempt would only cost time.
                captureStackTrace: false
              },
              (span) =>
                Effect.tap(attempt, (result) => AttemptSpan.end(span, result, breaker.unsafe.get(target)))
            )
          }

          const acquire = (target: Target) => breaker.unsafe.acquire(target, clock.unsafeCurrentTimeMillis())

          /**
           * One attempt, or with hedging a race of the target and (after the delay) the other region.
           * Called when the attempt is to run (the breaker's probe is taken at once).
           */
          const attemptAt = (target: Target): Effect.Effect<AttemptResult<A>> => {
            const alternative = Decide.alternative(plan, target)
            const hedgeDelayMs = hedgeDelayFor(target)
            if (hedgeDelayMs === undefined || alternative === undefined || state.attempts > 0) {
              acquire(target)
              return runAttempt(target)
            }
            let hedgeStarted = false
            const hedgeAttempt = Effect.suspend(() => {
              if (acquire(alternative) === "open") return Effect.never
              return Effect.flatMap(rate.permit(alternative, plan.deadlineAt), (admitted) => {
                if (!admitted) return Effect.never
                hedgeStarted = true
                return runAttempt(alternative, true)
              })
            })
            // Over a transport that enforces attempt limits, the primary attempt runs in this fiber and is
            // handed over only if it has no answer at the delay: the race, and its fiber, exist only then.
            // Arming a race of two fibers on every call cost more than the rest of the call. A call a tracer
            // follows keeps the race of two fibers: handed over from inside the primary attempt's span, the
            // hedge's span would be its child rather than its sibling.
            if (transportTimesAttempts && !traced) {
              acquire(target)
              return runAttempt(target, false, {
                afterMs: hedgeDelayMs,
                onSlow: (primary) => raceLate(primary, hedgeAttempt, () => hedgeStarted)
              })
            }
            const hedge = Effect.zipRight(Effect.sleep(Duration.millis(hedgeDelayMs)), hedgeAttempt)
            acquire(target)
            return Effect.raceWith(runAttempt(target), hedge, {
              onSelfDone: (exit, hedgeFiber) =>
                Effect.flatMap(exit, (primary) => afterPrimary(primary, hedgeFiber, hedgeStarted)),
              onOtherDone: (exit, primaryFiber) =>
                Effect.flatMap(exit, (hedged) =>
                  hedged._tag === "Succeeded"
                    ? Effect.as(Fiber.interrupt(primaryFiber), hedged)
                    : Fiber.join(primaryFiber)
                )
            })
          }

          const skip = (target: Target) =>
            trail.push({ region: target, attempt: 0, outcome: "circuit-open", ms: 0 })

          /** A permit would come at or past the deadline: stop as out of time, with nothing more sent. */
          const outOfTime = (target: Target, last: Failed | undefined): Traced<A> => {
            if (last === undefined) {
              const error = new Timeout({
                scope: "deadline",
                ms: deadlineMs,
                region: target,
                message: `The call's ${deadlineMs} ms deadline came before the rate controller's next permit for ${target}`
              })
              return { result: Either.left(error), attempts: [...trail], response: undefined }
            }
            return stopWith(Decide.exhausted(state).step, last)
          }

          const stopWith = (step: Decide.Step, last: Failed): Traced<A> => {
            const own = step._tag === "Stop" && step.error === "last"
            return {
              result: Either.left(own ? last.error : allRegionsFailed(trail, state.attempts)),
              attempts: [...trail],
              response: own ? last.response : lastAnswer
            }
          }

          /** After an attempt: the call's answer, or the next step the outcome table gives. */
          const afterAttempt = (result: AttemptResult<A>): Effect.Effect<Traced<A>> => {
            if (result._tag === "Succeeded") {
              if (policy === "auto" && call.agentId !== undefined && result.target !== "custom")
                remember(call.agentId, result.target)
              return Effect.succeed({
                result: Either.right(result.value),
                attempts: [...trail],
                response: result.response
              })
            }
            return Effect.flatMap(Random.next, (random) => {
              const decision = Decide.decide(plan, state, result, world(random))
              state = decision.state
              return decision.step._tag === "Stop"
                ? Effect.succeed(stopWith(decision.step, result))
                : proceed(decision.step, result)
            })
          }

          /** Runs a step: its skip, its wait, the rate controller's permit, then the attempt. */
          const proceed = (step: Decide.AttemptStep, last: Failed | undefined): Effect.Effect<Traced<A>> => {
            if (step.skipped !== undefined) skip(step.skipped)
            const { target, waitMs } = step
            // After the call's own wait, never on top of it for the retry of a 429 (see `permit`).
            const retryOf429 = last?.outcome === "rate-limited" && last.target === target
            const permitted = Effect.flatMap(rate.permit(target, plan.deadlineAt, retryOf429), (admitted) =>
              admitted
                ? Effect.flatMap(attemptAt(target), afterAttempt)
                : Effect.succeed(outOfTime(target, last))
            )
            if (waitMs <= 0) return permitted
            const wait = Effect.sleep(Duration.millis(waitMs))
            return Effect.zipRight(
              traced
                ? Spans.within(
                    "Convocore.wait",
                    {
                      attributes: { "convocore.wait_ms": waitMs, "convocore.region": target },
                      captureStackTrace: false
                    },
                    () => wait
                  )
                : wait,
              permitted
            )
          }

          return proceed(Decide.start(plan, world(0)), undefined)
        })

      return { execute } as const
    }),
    dependencies: [CircuitBreaker.Default, RateController.Default]
  }
) {}
