/**
 * Every route of the API the gateway does not serve itself, passed on, so that a Convocore client can
 * point its base URL at the gateway for all its calls: the caller's method, path, query and body go
 * upstream and the upstream's status, headers and bytes come back. GETs get the client's retry and
 * failover; other methods go once to the configured region and are never retried; nothing is cached.
 *
 * Auth as for the served routes: in forward mode the caller's token goes upstream. In own-key mode a
 * caller must present a configured token, and the gateway's own key reaches only the routes the operator
 * allowed (`GATEWAY_ALLOW_ROUTES`); every other route is refused with 403 and no upstream call.
 */
import { type HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Context, Effect, Either, Layer, Redacted } from "effect"
import { statusOf } from "./Answers.js"
import { makeAuthenticator } from "./CallerAuth.js"
import { GatewayConfig, type RoutePattern } from "./GatewayConfig.js"
import { passesThrough } from "./Lifecycle.js"
import { Upstream } from "./Upstream.js"

const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const
type Method = (typeof methods)[number]
const isMethod = (method: string): method is Method => (methods as ReadonlyArray<string>).includes(method)

const bearerHeader = /^Bearer[ \t]+(\S+)[ \t]*$/i

/** Request headers that describe the body, passed on; everything else (cookies, hop-by-hop) is not. */
const bodyHeaders = ["content-type", "content-length"] as const
/** Response headers passed back; the rest (connection, transfer-encoding, cookies) is the gateway's own. */
const answerHeaders = [
  "content-type",
  "cache-control",
  "etag",
  "last-modified",
  "retry-after",
  "x-request-id"
]

/** Whether a route pattern allows a request: `*` matches one path segment, `**` all that follow. */
export const allows = (pattern: RoutePattern, method: string, path: string): boolean => {
  if (pattern.method !== "*" && pattern.method !== method) return false
  const wanted = pattern.path.split("/")
  const actual = path.split("/")
  for (let i = 0; i < wanted.length; i++) {
    if (wanted[i] === "**") return true
    if (i >= actual.length || (wanted[i] !== "*" && wanted[i] !== actual[i])) return false
  }
  return wanted.length === actual.length
}

const refuse = (status: number, code: string, message: string) =>
  HttpServerResponse.unsafeJson({ message, code }, { status })

const make = Effect.gen(function* () {
  const settings = yield* GatewayConfig
  const upstream = yield* Upstream
  const authenticate = makeAuthenticator(settings)

  const serve = (request: HttpServerRequest.HttpServerRequest, path: string) =>
    Effect.gen(function* () {
      const method = request.method
      if (!isMethod(method)) return refuse(405, "METHOD_NOT_SUPPORTED", `Method ${method} not supported`)
      const token = bearerHeader.exec(request.headers.authorization ?? "")?.[1] ?? ""
      const caller = authenticate(token)
      if (Either.isLeft(caller)) return refuse(401, "UNAUTHORIZED", caller.left)
      if (
        settings.auth === "own-key" &&
        !settings.allowRoutes.some((pattern) => allows(pattern, method, path))
      )
        return refuse(
          403,
          "FORBIDDEN",
          `${method} ${path.length > 120 ? `${path.slice(0, 120)}...` : path} is not a route this gateway passes on`
        )
      const queryAt = request.url.indexOf("?")
      const headers: Record<string, string> = {}
      for (const name of bodyHeaders) {
        const value = request.headers[name]
        if (value !== undefined) headers[name] = value
      }
      const hasBody = method !== "GET" && method !== "HEAD" && (headers["content-length"] ?? "0") !== "0"
      const result = yield* upstream.forward({
        method,
        pathAndQuery: path.slice("/v3".length) + (queryAt === -1 ? "" : request.url.slice(queryAt)),
        headers,
        body: hasBody || request.headers["transfer-encoding"] !== undefined ? request.stream : undefined,
        token: settings.auth === "forward" ? Redacted.make(token) : undefined
      })
      if (result._tag === "Failure") {
        const status = statusOf(result.error)
        return refuse(
          status === 400 ? 502 : status,
          "SERVICE_UNAVAILABLE",
          `Convocore is unavailable: ${result.error.message}`
        )
      }
      const passed: Record<string, string> = { "x-convocore-region": result.region }
      for (const name of answerHeaders) {
        const value = result.headers[name]
        if (value !== undefined) passed[name === "x-request-id" ? "x-upstream-request-id" : name] = value
      }
      const contentType = result.headers["content-type"]
      return result.body instanceof Uint8Array
        ? HttpServerResponse.uint8Array(result.body, {
            status: result.status,
            headers: passed,
            ...(contentType === undefined ? {} : { contentType })
          })
        : HttpServerResponse.stream(result.body, {
            status: result.status,
            headers: passed,
            ...(contentType === undefined ? {} : { contentType })
          })
    })
  return { serve } as const
})

/** The gateway's app with the pass-through in front: `/v3` requests it does not serve go upstream. */
export const around = <R>(app: HttpApp.Default<never, R>): HttpApp.Default<never, R | PassThrough> =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (
      request
    ): Effect.Effect<
      HttpServerResponse.HttpServerResponse,
      never,
      R | PassThrough | HttpServerRequest.HttpServerRequest
    > => {
      const queryAt = request.url.indexOf("?")
      const path = queryAt === -1 ? request.url : request.url.slice(0, queryAt)
      return passesThrough(request.method, path)
        ? Effect.flatMap(PassThrough, (passThrough) => passThrough.serve(request, path))
        : app
    }
  )

export class PassThrough extends Context.Tag("@convocore-effect/gateway/PassThrough")<
  PassThrough,
  Effect.Effect.Success<typeof make>
>() {
  static readonly layer = Layer.effect(PassThrough, make)
}
