/**
 * The admin routes (`/_sandbox/faults`, `/_sandbox/counters`) on a port of their own, open for as long
 * as the sandbox runs: a region that is `down` closes its own port, so with both regions down only this
 * one can bring them back. A fault spec sent here without `?region=` applies to both regions.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, FiberSet, type Scope } from "effect"
import type { SandboxRequest } from "./Handler.js"
import type { ListenError, Target } from "./Listener.js"
import { headersOf, readBody } from "./NodeRequest.js"

const notFound = JSON.stringify({
  error: { code: "NOT_FOUND", message: "The admin port serves /_sandbox/faults and /_sandbox/counters" }
})

/** `?region=all` unless the request chose its regions. */
const allRegionsByDefault = (url: string): string => {
  const queryAt = url.indexOf("?")
  const query = new URLSearchParams(queryAt === -1 ? "" : url.slice(queryAt + 1))
  if (query.has("region")) return url
  query.set("region", "all")
  return `${queryAt === -1 ? url : url.slice(0, queryAt)}?${query}`
}

export const listen = (
  target: Target,
  host: string,
  port: number,
  error: (cause: unknown) => ListenError
): Effect.Effect<number, ListenError, Scope.Scope> =>
  Effect.gen(function* () {
    const run = yield* FiberSet.makeRuntime<never>()
    const server = Http.createServer((request, response) => {
      const url = request.url ?? "/"
      if (!url.startsWith("/_sandbox/")) {
        request.resume()
        response.writeHead(404, { "content-type": "application/json; charset=utf-8" }).end(notFound)
        return
      }
      run(
        Effect.gen(function* () {
          const body = yield* Effect.promise(() => readBody(request))
          const sandboxRequest: SandboxRequest = {
            method: request.method ?? "GET",
            url: allRegionsByDefault(url),
            headers: headersOf(request),
            body
          }
          // Admin routes answer the same whichever region's handler takes them.
          const reply = yield* target.handle("eu", sandboxRequest)
          if (reply._tag === "Respond") response.writeHead(reply.status, reply.headers).end(reply.body)
          else response.socket?.destroy()
        })
      )
    })
    yield* Effect.acquireRelease(
      Effect.async<void, ListenError>((resume) => {
        server.once("error", (cause) => resume(Effect.fail(error(cause))))
        server.listen(port, host, () => resume(Effect.void))
      }),
      () =>
        Effect.sync(() => {
          server.close()
          server.closeAllConnections()
        })
    )
    // listen() was given a TCP port, so the address is an AddressInfo, never a pipe name.
    return (server.address() as AddressInfo).port
  })
