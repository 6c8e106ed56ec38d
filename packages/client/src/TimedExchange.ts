/**
 * One exchange of an attempt: the request sent and the whole response body read, within a time limit.
 *
 * Any `HttpClient` can do it: the resilient layer runs the exchange in a fiber and `AttemptTimer`
 * interrupts that fiber when the limit strikes. A fiber per attempt was the largest single cost of a call
 * (about 40 µs of CPU of some 150), so a transport may offer the exchange itself, timed by its own timer
 * and cancelled through its own abort path (./UndiciTransport.ts does). The offer is a property of the
 * client object: a client derived from it (`HttpClient.mapRequest` and the like) is a new object without
 * it, so wrapping a transport can never skip the wrapper; the layer then falls back to the fiber.
 *
 * A native exchange keeps time with the real clock, not Effect's `Clock`: `TestClock` does not drive it,
 * which is why the scripted transports of the unit tests do not offer one.
 */
import type { HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Effect, type Either, Option, type Scope } from "effect"
import * as AttemptTimer from "./AttemptTimer.js"

export interface Exchange {
  readonly response: HttpClientResponse.HttpClientResponse
  /** The whole body, or why it could not be read (a connection cut mid-body, for one). */
  readonly body: Either.Either<ArrayBuffer, HttpClientError.ResponseError>
}

/**
 * Sends `request` and reads the whole body within `limitMs`: `None` when the limit struck first (the
 * request is then aborted and its connection freed); a failure when the request could not be sent.
 * Interrupting the effect aborts the request too.
 */
export type TimedExchange = (
  request: HttpClientRequest.HttpClientRequest,
  limitMs: number
) => Effect.Effect<Option.Option<Exchange>, HttpClientError.HttpClientError>

const TypeId: unique symbol = Symbol.for("@convocore-effect/client/TimedExchange")

type Offering = HttpClient.HttpClient & { readonly [TypeId]: TimedExchange }

/** The client with `exchange` offered on it; the client itself is returned. */
export const offer = (client: HttpClient.HttpClient, exchange: TimedExchange): HttpClient.HttpClient =>
  Object.defineProperty(client, TypeId, { value: exchange, enumerable: false })

/** The exchange this very client offers, if any (never one of a client it was derived from). */
export const offeredBy = (client: HttpClient.HttpClient): TimedExchange | undefined =>
  Object.hasOwn(client, TypeId) ? (client as Offering)[TypeId] : undefined

/** The exchange over any client: the attempt runs in a fiber that an `AttemptTimer` (in the scope) interrupts. */
export const timedByFiber = (
  client: HttpClient.HttpClient
): Effect.Effect<TimedExchange, never, Scope.Scope> =>
  Effect.map(AttemptTimer.make, (timer) => (request, limitMs) => {
    const exchange = Effect.flatMap(client.execute(request), (response) =>
      Effect.map(Effect.either(response.arrayBuffer), (body): Exchange => ({ response, body }))
    )
    return Effect.flatMap(
      timer.timeoutOption(Effect.either(exchange), limitMs),
      Option.match({
        onNone: () => Effect.succeedNone,
        onSome: (exchanged) => Effect.map(exchanged, Option.some)
      })
    )
  })
