/**
 * The production transport: an `HttpClient` straight over undici's `Dispatcher.request`.
 *
 * Why not `NodeHttpClient.layerUndici`? It is correct and works here too (a test runs the whole client
 * over it), but its generic machinery (a tracing span, an `AbortController`, a finalization-registry
 * entry and a response wrapper per request) costs about 150 µs of CPU per request on the development
 * machine, three times undici's own cost and more than the whole resilient layer. The resilient layer
 * already gives every attempt its span, timeout and interruption, so this transport does only the
 * exchange: interruption aborts the request, or the body being read.
 *
 * It sends empty, byte, text and streamed bodies. Other body kinds (form data) fail as a `RequestError`
 * (reason `Encode`) instead of being sent wrong.
 */

import { Readable } from "node:stream"
import type { ReadableStream as WebReadableStream } from "node:stream/web"
import {
  Cookies,
  Headers,
  HttpClient,
  HttpClientError,
  type HttpClientRequest,
  HttpClientResponse,
  HttpIncomingMessage,
  UrlParams
} from "@effect/platform"
import { Effect, Either, Inspectable, Layer, Option, Stream } from "effect"
import { type Dispatcher, Pool } from "undici"
import {
  type AttemptLimit,
  AttemptLimitExceeded,
  type LateOutcome,
  offeredIn,
  SlowExchange
} from "./AttemptLimit.js"
import { withoutStackTraces } from "./withoutStackTraces.js"

const utf8 = new TextDecoder()

const ignoreError = () => {}

/**
 * A request's abort switch. undici takes any EventTarget-shaped `signal` (it checks for
 * `addEventListener`, reads `aborted` and `reason`, and adds one listener), and aborting it cancels the
 * request before the answer and destroys the body after it. Node's `AbortController` does the same with
 * a full `EventTarget` per request, which was a tenth of a call's CPU with its garbage.
 */
class RequestAbort {
  aborted = false
  reason: unknown = undefined
  private listener: (() => void) | undefined

  addEventListener(_type: "abort", listener: () => void) {
    this.listener = listener
  }

  removeEventListener(_type: "abort", listener: () => void) {
    if (this.listener === listener) this.listener = undefined
  }

  abort(reason: unknown) {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listener = this.listener
    this.listener = undefined
    listener?.()
  }

  /**
   * Aborts in the event loop's next check phase rather than now. Whoever gave up on the exchange goes on
   * at once: an interrupted hedge loser's fiber ends without waiting for undici to tear the request and
   * its socket down, so the winner's answer is returned sooner (about 0.3 ms sooner per hedged call on
   * the development machine, where that teardown ran cold). The socket is closed a moment later all the
   * same; if the answer completes first, undici has already let go of the signal and the connection is
   * kept for the next request.
   */
  abortSoon(reason: unknown) {
    setImmediate(() => this.abort(reason))
  }
}

/** The longest delay `setTimeout` takes: 2^31 - 1 ms. */
const maxTimerMs = 2 ** 31 - 1

/** Why an exchange was aborted: the attempt's fiber was interrupted. */
class ExchangeAborted extends Error {
  override readonly name = "ExchangeAborted"
}

class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly status: number
  readonly remoteAddress = Option.none<string>()
  private cachedHeaders: Headers.Headers | undefined
  /** The body is read once; every accessor shares the one read. */
  private bytes: Promise<ArrayBuffer> | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly source: Dispatcher.ResponseData,
    /** Called once the body has been read (or failed): the exchange's time limit no longer applies. */
    private readonly settled: () => void = () => {},
    /** The body, when the exchange read it before answering (`AttemptLimit.readsWholeBody`). */
    private readonly read?: Either.Either<ArrayBuffer, unknown>
  ) {
    super()
    this.status = source.statusCode
  }

  /** Stops the body where it is, so that a read in progress fails with `reason` and the socket is freed. */
  abandon(reason: Error) {
    this.source.body.destroy(reason)
  }

  get headers(): Headers.Headers {
    this.cachedHeaders ??= Headers.fromInput(this.source.headers)
    return this.cachedHeaders
  }

  get cookies(): Cookies.Cookies {
    const header = this.source.headers["set-cookie"]
    return header === undefined
      ? Cookies.empty
      : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  decodeError(cause: unknown) {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause
    })
  }

  /** The body's bytes, read once whoever asks first (when the exchange did not read them already). */
  private readBytes(): Promise<ArrayBuffer> {
    if (this.bytes === undefined) {
      this.bytes = this.source.body.arrayBuffer()
      this.bytes.then(this.settled, this.settled)
    }
    return this.bytes
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    const read = this.read
    if (read !== undefined)
      return Either.isRight(read) ? Effect.succeed(read.right) : Effect.fail(this.decodeError(read.left))
    // A one-argument register: Effect then makes no `AbortController`; the canceler is returned instead.
    return Effect.async((resume) => {
      this.readBytes().then(
        (bytes) => resume(Effect.succeed(bytes)),
        (cause: unknown) => resume(Effect.fail(this.decodeError(cause)))
      )
      // Interrupted mid-body (an attempt timeout during a slow body): stop reading and free the socket,
      // in the next check phase as `RequestAbort.abortSoon` does, so the interrupted fiber need not wait.
      return Effect.sync(() => {
        setImmediate(() => this.source.body.destroy())
      })
    })
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.map(this.arrayBuffer, (bytes) => utf8.decode(bytes))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        // `JSON.parse` returns `any`; `unknown` keeps the caller honest.
        try: (): unknown => (text === "" ? null : JSON.parse(text)),
        catch: (cause) => this.decodeError(cause)
      })
    )
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.arrayBuffer, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes, { headers: this.headers }).formData(),
        catch: (cause) => this.decodeError(cause)
      })
    )
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    // Once the body has been read (or its read begun), the stream gives the same bytes.
    if (this.read !== undefined || this.bytes !== undefined)
      return Stream.map(Stream.fromEffect(this.arrayBuffer), (bytes) => new Uint8Array(bytes))
    return Stream.fromAsyncIterable<Uint8Array, HttpClientError.ResponseError>(this.source.body, (cause) =>
      this.decodeError(cause)
    )
  }

  toJSON(): unknown {
    return { _id: "@effect/platform/HttpClientResponse", request: this.request.toJSON(), status: this.status }
  }
}

const requestBody = (
  body: HttpClientRequest.HttpClientRequest["body"]
): Either.Either<string | Uint8Array | Readable | null, string> => {
  switch (body._tag) {
    case "Stream":
      // Streamed as it is read (a proxied upload), not gathered first. Effect types its web stream with the
      // DOM's `ReadableStream`, Node with its own; they are the same object at run time.
      return Either.right(
        Readable.fromWeb(Stream.toReadableStream(body.stream) as WebReadableStream<Uint8Array>)
      )
    case "Empty":
      return Either.right(null)
    case "Uint8Array":
      return Either.right(body.body)
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array
        ? Either.right(body.body)
        : Either.left("a raw body that is not a string or bytes")
    default:
      return Either.left(`a ${body._tag} body`)
  }
}

/** What undici needs to send `request`, or why this transport cannot send it. */
const undiciOptions = (
  request: HttpClientRequest.HttpClientRequest,
  signal: RequestAbort
): Either.Either<Dispatcher.RequestOptions, HttpClientError.RequestError> => {
  const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
  if (Either.isLeft(url)) {
    return Either.left(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left }))
  }
  const body = requestBody(request.body)
  if (Either.isLeft(body)) {
    return Either.left(
      new HttpClientError.RequestError({
        request,
        reason: "Encode",
        description: `UndiciTransport does not send ${body.left}`
      })
    )
  }
  return Either.right({
    origin: url.right.origin,
    path: url.right.pathname + url.right.search,
    method: request.method,
    headers: request.headers,
    body: body.right,
    signal,
    // Timeouts belong to the resilient layer (per attempt and per call), not to the socket.
    headersTimeout: 0,
    bodyTimeout: 0
  })
}

const transportError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  withoutStackTraces(() => new HttpClientError.RequestError({ request, reason: "Transport", cause }))

/** What the transport needs of a dispatcher: an undici `Dispatcher` (an `Agent`, a `MockAgent`...) will do. */
export interface RequestDispatcher {
  readonly request: (options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>
}

/**
 * One undici `Pool` per origin, kept for the transport's lifetime: the default dispatcher.
 *
 * undici's `Agent` closes an origin's pool as soon as its connections have all failed or dropped, and
 * builds a new one for the next request. A refused connect then costs a pool, a client and their teardown,
 * about 200 µs of CPU against some 55 µs for the connect attempt itself (measured on the development
 * machine), and a failover from a region that refuses connections pays it on every call. The client
 * talks to two or three origins; past `maxOrigins` the oldest pool is closed (gracefully).
 */
export class OriginPools implements RequestDispatcher {
  private readonly pools = new Map<string, Pool>()

  constructor(
    private readonly options: Pool.Options = {},
    private readonly maxOrigins = 16
  ) {}

  readonly request = (options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> =>
    this.poolFor(String(options.origin)).request(options)

  private poolFor(origin: string): Pool {
    const known = this.pools.get(origin)
    if (known !== undefined) return known
    const pool = new Pool(origin, this.options)
    this.pools.set(origin, pool)
    if (this.pools.size > this.maxOrigins) {
      const [oldest, evicted] = this.pools.entries().next().value ?? []
      if (oldest !== undefined && evicted !== undefined) {
        this.pools.delete(oldest)
        evicted.close().catch(ignoreError)
      }
    }
    return pool
  }

  /** Closes every pool once its requests in flight are done. */
  close(): Promise<void> {
    const pools = [...this.pools.values()]
    this.pools.clear()
    return Promise.all(pools.map((pool) => pool.close())).then(() => undefined)
  }
}

/** An `HttpClient` over the given undici dispatcher. */
export const make = (dispatcher: RequestDispatcher): HttpClient.HttpClient => {
  const exchange = (request: HttpClientRequest.HttpClientRequest, limit: AttemptLimit | undefined) =>
    Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((resume) => {
      const signal = new RequestAbort()
      const options = undiciOptions(request, signal)
      if (Either.isLeft(options)) return resume(Effect.fail(options.left))
      let response: UndiciResponse | undefined
      // Whichever comes first settles the exchange: the head (or the whole body), a failure, the limit, an
      // interruption. The outcome answers the effect, or, once the exchange has been handed over (a
      // hedged attempt with no answer within its delay), the promise it was handed over with.
      let settled = false
      let handedOver: ((outcome: LateOutcome) => void) | undefined
      const settle = (outcome: LateOutcome) => {
        if (settled) return
        settled = true
        if (handedOver !== undefined) handedOver(outcome)
        else resume(Either.isRight(outcome) ? Effect.succeed(outcome.right) : Effect.fail(outcome.left))
      }
      // The attempt's limit covers the head and the whole body: one timer, cleared when the body is read.
      // A limit past what `setTimeout` can count (about 24.8 days; Node would fire it after 1 ms) is no
      // limit, as it is for Effect's own `sleep`.
      let timer: ReturnType<typeof setTimeout> | undefined
      if (limit !== undefined) {
        limit.honoured = true
        const strike = () => {
          const exceeded = new AttemptLimitExceeded(limit.ms)
          if (response === undefined) {
            settle(Either.left(transportError(request, exceeded)))
            signal.abortSoon(exceeded)
          } else response.abandon(exceeded)
        }
        const hardLimit = (afterMs: number) =>
          limit.ms <= maxTimerMs ? setTimeout(strike, limit.ms - afterMs) : undefined
        const slowAfterMs = limit.readsWholeBody ? limit.slowAfterMs : undefined
        timer =
          slowAfterMs !== undefined && slowAfterMs < limit.ms
            ? // The same timer strikes first at the hedge delay, then at the limit.
              setTimeout(() => {
                timer = hardLimit(slowAfterMs)
                const late = new Promise<LateOutcome>((resolve) => {
                  handedOver = resolve
                })
                const abandon = () => {
                  clearTimeout(timer)
                  const reason = new ExchangeAborted("The exchange was abandoned: the other region answered")
                  settle(Either.left(transportError(request, reason)))
                  signal.abortSoon(reason)
                }
                resume(Effect.fail(transportError(request, new SlowExchange(late, abandon))))
              }, slowAfterMs)
            : hardLimit(0)
      }
      dispatcher.request(options.right).then(
        (source) => {
          // A body error surfaces through the read; without a listener it would also crash the process.
          source.body.on("error", ignoreError)
          if (limit?.readsWholeBody !== true) {
            response = new UndiciResponse(request, source, () => clearTimeout(timer))
            return settle(Either.right(response))
          }
          // The attempt reads the whole body at once: read it here and answer once, the body in hand. A
          // limit that strikes meanwhile answers first, and the abort it sends destroys the body.
          const read = (body: Either.Either<ArrayBuffer, unknown>) => {
            clearTimeout(timer)
            settle(Either.right(new UndiciResponse(request, source, undefined, body)))
          }
          source.body.arrayBuffer().then(
            (bytes) => read(Either.right(bytes)),
            (cause: unknown) => read(Either.left(cause))
          )
        },
        (cause: unknown) => {
          clearTimeout(timer)
          settle(Either.left(transportError(request, cause)))
        }
      )
      return Effect.sync(() => {
        settled = true
        clearTimeout(timer)
        signal.abortSoon(new ExchangeAborted("The request was interrupted"))
      })
    })

  const execute = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((fiber) =>
      exchange(request, offeredIn(fiber))
    )

  return HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (prepared) => Effect.flatMap(prepared, execute),
    Effect.succeed
  )
}

/** The transport layer with its own connection pool, closed when the layer's scope ends. */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new OriginPools({ keepAliveTimeout: 30_000 })),
      (pools) => Effect.promise(() => pools.close())
    ),
    make
  )
)
