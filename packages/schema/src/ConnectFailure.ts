/**
 * The one rule for "the connection failed before anything was sent": the `connect` phase of
 * `TransportError`. A request that never reached the server is safe and fast to send elsewhere, so the
 * client fails over at once; the sandbox and the test doubles build their refusals here, so that every
 * transport is judged by the same rule.
 *
 * Node and undici report such failures as errors carrying an errno-style `code`, nested under `cause`
 * (undici) or in `errors` (Node's happy-eyeballs `AggregateError`).
 */

/** Codes of a failure where nothing reached the server. */
const connectCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT"
])

/** The errno-style `code` found in a failure's cause chain, if any. */
export const errorCode = (cause: unknown, depth = 0): string | undefined => {
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

/** Whether `cause` (a transport's failure, or anything in its chain) says nothing reached the server. */
export const isConnectFailure = (cause: unknown): boolean => {
  const code = errorCode(cause)
  return code !== undefined && connectCodes.has(code)
}

/** A failure shaped as Node reports a socket error: the message and its errno `code`. */
export const socketError = (code: string, message: string): Error & { readonly code: string } =>
  Object.assign(new Error(message), { code })

/** A refused connection to `host`, as Node reports one. */
export const connectionRefused = (host: string) => socketError("ECONNREFUSED", `connect ECONNREFUSED ${host}`)

/** A host name that does not resolve, as Node reports one. */
export const hostNotFound = (hostname: string) =>
  socketError("ENOTFOUND", `getaddrinfo ENOTFOUND ${hostname}`)
