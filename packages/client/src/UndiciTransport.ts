/**
 * The production transport: an `HttpClient` straight over undici's `Dispatcher.request`.
 *
 * Why not `NodeHttpClient.layerUndici`? It is correct and works here too (a test runs the whole client
 * over it), but its generic machinery (a tracing span, an `AbortController`, a finalization-registry
 * entry and a response wrapper per request) costs about 150 µs of CPU per request on the development
 * machine, three times undici's own cost and more than the whole resilient layer. The resilient layer
 * already gives every attempt its span, timeout and interruption, so this transport does only the
 * exchange: interruption aborts the request (or the body being read) through the fiber's abort signal.
 *
 * It sends what the Convocore API needs: empty, byte and text bodies. Other body kinds fail as a
 * `RequestError` (reason `Encode`) instead of being sent wrong.
 */
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
import { Agent, type Dispatcher } from "undici"

const utf8 = new TextDecoder()

const ignoreError = () => {}

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
    private readonly source: Dispatcher.ResponseData
  ) {
    super()
    this.status = source.statusCode
    // A body error surfaces through the read; without a listener it would also crash the process.
    source.body.on("error", ignoreError)
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

  private decodeError(cause: unknown) {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.async((resume, signal) => {
      this.bytes ??= this.source.body.arrayBuffer()
      // Interrupted mid-body (an attempt timeout during a slow body): stop reading and free the socket.
      const abort = () => this.source.body.destroy()
      signal.addEventListener("abort", abort, { once: true })
      this.bytes.then(
        (bytes) => {
          signal.removeEventListener("abort", abort)
          resume(Effect.succeed(bytes))
        },
        (cause: unknown) => {
          signal.removeEventListener("abort", abort)
          resume(Effect.fail(this.decodeError(cause)))
        }
      )
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
): Either.Either<string | Uint8Array | null, string> => {
  switch (body._tag) {
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

/** An `HttpClient` over the given undici dispatcher. */
export const make = (dispatcher: Dispatcher): HttpClient.HttpClient =>
  HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (prepared) =>
      Effect.flatMap(prepared, (request) => {
        const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
        if (Either.isLeft(url)) {
          return Effect.fail(
            new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left })
          )
        }
        const body = requestBody(request.body)
        if (Either.isLeft(body)) {
          return Effect.fail(
            new HttpClientError.RequestError({
              request,
              reason: "Encode",
              description: `UndiciTransport does not send ${body.left}`
            })
          )
        }
        return Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>(
          (resume, signal) => {
            dispatcher
              .request({
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
              .then(
                (response) => resume(Effect.succeed(new UndiciResponse(request, response))),
                (cause: unknown) =>
                  resume(
                    Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause }))
                  )
              )
          }
        )
      }),
    Effect.succeed
  )

/** The transport layer with its own connection pool, closed when the layer's scope ends. */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Agent({ keepAliveTimeout: 30_000 })),
      (agent) => Effect.promise(() => agent.close())
    ),
    make
  )
)
