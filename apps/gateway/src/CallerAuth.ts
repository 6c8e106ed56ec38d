/**
 * The `Authorization` middleware: the gateway is never open.
 *
 * - Forward mode: every non-empty bearer token is accepted here and sent upstream, which decides; the
 *   caller's tenant (the cache partition) is a SHA-256 of the token, so a token only ever gets documents
 *   fetched with that same token.
 * - Own-key mode: only the configured caller tokens are accepted (compared as SHA-256 digests in constant
 *   time); every caller shares one cache partition, since every upstream call uses the gateway's one key.
 */

import * as Crypto from "node:crypto"
import { HttpServerRequest } from "@effect/platform"
import { Effect, Either, Layer, Option, Redacted } from "effect"
import { Authorization, type CallerInfo, GatewayUnauthorized } from "./GatewayApi.js"
import { GatewayConfig, type GatewaySettings } from "./GatewayConfig.js"

// Every request hashes its token, and the one-shot `crypto.hash` costs a quarter of a `Hash` object; it
// arrived in Node 20.12, and the engines field still admits 20.11, hence the fallback.
const oneShot = typeof Crypto.hash === "function" ? Crypto.hash : undefined

const digest = (token: string): Buffer =>
  oneShot !== undefined
    ? oneShot("sha256", token, "buffer")
    : Crypto.createHash("sha256").update(token, "utf8").digest()

/** The cache partition of a forwarded token: not reversible, and short enough to log. */
export const tenantOf = (token: string): string =>
  (oneShot !== undefined ? oneShot("sha256", token, "hex") : digest(token).toString("hex")).slice(0, 32)

/**
 * Decides on a bearer token: the caller's tenant (its cache partition), or why it is refused. Shared with
 * the fast path, which needs no more than the tenant.
 */
export const makeAuthenticator = (settings: GatewaySettings) => {
  const accepted = settings.callerTokens.map((token) => digest(Redacted.value(token)))
  return (token: string): Either.Either<string, string> => {
    if (token.length === 0 || /\s/.test(token)) {
      return Either.left("Missing bearer token: send Authorization: Bearer <key>")
    }
    if (settings.auth === "forward") return Either.right(tenantOf(token))
    const presented = digest(token)
    // Every configured token is compared, so the time taken does not say which one came close.
    let known = false
    for (const candidate of accepted) known = Crypto.timingSafeEqual(candidate, presented) || known
    return known ? Either.right("own-key") : Either.left("Unknown caller token")
  }
}

const bearerHeader = /^Bearer[ \t]+(\S+)[ \t]*$/i

export const AuthorizationLive = Layer.effect(
  Authorization,
  Effect.map(GatewayConfig, (settings) => {
    const authenticate = makeAuthenticator(settings)
    return {
      // The platform's decoder drops the header's first 7 characters whatever the scheme; the header
      // itself is read again here so that `Basic ...` or `Token ...` is refused, not forwarded.
      bearer: () =>
        Effect.map(Effect.serviceOption(HttpServerRequest.HttpServerRequest), (request) => {
          const header = Option.getOrUndefined(
            Option.flatMapNullable(request, (r) => r.headers.authorization)
          )
          return bearerHeader.exec(header ?? "")?.[1] ?? ""
        }).pipe(
          Effect.flatMap((token) =>
            Either.match(authenticate(token), {
              onLeft: (message) => Effect.fail(new GatewayUnauthorized({ message, code: "UNAUTHORIZED" })),
              onRight: (tenant): Effect.Effect<CallerInfo> =>
                Effect.succeed({
                  upstreamToken: settings.auth === "forward" ? Redacted.make(token) : undefined,
                  tenant
                })
            })
          )
        )
    }
  })
)
