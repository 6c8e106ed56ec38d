/**
 * The sandbox as real HTTP listeners on loopback, one port per region.
 *
 * Why `node:http` and not @effect/platform's HttpServer: the faults are about the socket, not the
 * request. `down` must close the listening socket and later re-open the same port (the platform server's
 * socket lives exactly as long as its layer), a truncated body must promise a `content-length` and then
 * drop the connection half-way, and `hang` must hold a request open with no response at all. The
 * request handling itself stays in Effect (./Handler.ts, run on this scope's runtime, so its `Clock` is
 * the caller's and `TestClock` drives it), and is the same function the in-process transport calls.
 */

import * as Http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Region } from "@convocore-effect/schema"
import type { Scope } from "effect"
import { Clock, Data, Effect, FiberHandle, FiberSet, Stream } from "effect"
import * as AdminListener from "./AdminListener.js"
import type { Installed } from "./Faults.js"
import type { Reply, SandboxRequest } from "./Handler.js"
import { bodyStream } from "./Handler.js"
import { headersOf, readBody } from "./NodeRequest.js"

type RegionName = Region.Region

export interface ListenOptions {
  /** Default 127.0.0.1: the sandbox is a local tool. */
  readonly host?: string
  /** EU listens on `port`, NA on `port + 1`; 0 (the default) picks free ports. */
  readonly port?: number
  /** Per-region ports, overriding `port`. */
  readonly ports?: Partial<Record<RegionName, number>>
  /** The admin routes' own port; default `port + 2`, or a free port when `port` is 0. */
  readonly adminPort?: number
}

export interface Listening {
  /** Base URLs, ending in `/v3`, as a client is configured with them. */
  readonly urls: Readonly<Record<RegionName, string>>
  /** `http://host:port` of each region; its admin routes (`/_sandbox/...`) answer while it is up. */
  readonly origins: Readonly<Record<RegionName, string>>
  readonly ports: Readonly<Record<RegionName, number>>
  /** `http://host:port` of the admin routes' own listener, open whatever the regions' faults. */
  readonly admin: string
  readonly adminPort: number
}

export class ListenError extends Data.TaggedError("ListenError")<{
  readonly region: RegionName | "admin"
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    return `The sandbox's ${this.region.toUpperCase()} listener could not listen on port ${this.port}: ${String(this.cause)}`
  }
}

/** What a listener needs from the sandbox. */
export interface Target {
  readonly handle: (region: RegionName, request: SandboxRequest) => Effect.Effect<Reply>
  readonly installed: (region: RegionName) => Effect.Effect<Installed>
  readonly observe: (
    region: RegionName,
    observer: (installed: Installed) => Effect.Effect<void>
  ) => Effect.Effect<void, never, Scope.Scope>
}

/** Real time, not the Clock: waiting for the kernel to release a port is not part of a test's timeline. */
const pause = (ms: number) =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(timer))
  })

const errorCode = (cause: unknown): unknown =>
  typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined

const regionListener = (target: Target, region: RegionName, host: string, requestedPort: number) =>
  Effect.gen(function* () {
    const run = yield* FiberSet.makeRuntime<never>()
    let server: Http.Server | undefined
    const sockets = new Set<Socket>()
    // Admin requests may close their own region's socket; they are answered, then their connection ends.
    const adminSockets = new WeakSet<Socket>()

    const write = (reply: Reply, response: Http.ServerResponse) =>
      Effect.gen(function* () {
        switch (reply._tag) {
          case "Hang":
            return
          case "Refuse":
            response.socket?.destroy()
            return
          case "Respond": {
            response.writeHead(reply.status, reply.headers)
            if (reply.slowBodyMs === undefined && reply.truncateAt === undefined) {
              response.end(reply.body)
              return
            }
            yield* bodyStream(reply).pipe(
              Stream.runForEach((chunk) =>
                Effect.async<void>((resume) => {
                  // A client that went away must not leave this fiber waiting for a write callback.
                  if (response.destroyed) return resume(Effect.void)
                  const onClose = () => resume(Effect.void)
                  response.once("close", onClose)
                  response.write(chunk, () => {
                    response.off("close", onClose)
                    resume(Effect.void)
                  })
                })
              ),
              Effect.matchEffect({
                onFailure: () => Effect.sync(() => response.socket?.destroy()),
                onSuccess: () => Effect.sync(() => response.end())
              })
            )
          }
        }
      })

    const onRequest = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      const url = request.url ?? "/"
      const admin = url.startsWith("/_sandbox/")
      if (admin) {
        adminSockets.add(request.socket)
        response.setHeader("connection", "close")
      }
      run(
        Effect.gen(function* () {
          const body = admin ? yield* Effect.promise(() => readBody(request)) : ""
          if (!admin) request.resume()
          const reply = yield* target.handle(region, {
            method: request.method ?? "GET",
            url,
            headers: headersOf(request),
            body
          })
          yield* write(reply, response)
        })
      )
    }

    const open = (port: number, attempt = 0): Effect.Effect<number, ListenError> =>
      Effect.async<number, ListenError>((resume) => {
        const candidate = Http.createServer(onRequest)
        candidate.on("connection", (socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
        })
        candidate.once("error", (cause) => resume(Effect.fail(new ListenError({ region, port, cause }))))
        let listening = false
        candidate.listen(port, host, () => {
          listening = true
          server = candidate
          // listen() was given a TCP port, so the address is an AddressInfo, never a pipe name.
          resume(Effect.succeed((candidate.address() as AddressInfo).port))
        })
        // Interrupted before listening (the fault changed again): this socket must not open later.
        return Effect.sync(() => {
          if (!listening) candidate.close()
        })
      }).pipe(
        // A just-closed port can take a moment to be released; when re-opening it, wait and try again.
        Effect.catchIf(
          (error) => port !== 0 && attempt < 100 && errorCode(error.cause) === "EADDRINUSE",
          () => Effect.zipRight(pause(20), open(port, attempt + 1))
        )
      )

    // Connections die with the socket, as they do when a server goes away; an admin request in flight
    // (possibly the one that asked for `down`) is answered first.
    const close = Effect.sync(() => {
      const current = server
      server = undefined
      if (current === undefined) return
      current.close()
      for (const socket of sockets) if (!adminSockets.has(socket)) socket.destroy()
    })

    const port = yield* open(requestedPort)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        const current = server
        server = undefined
        current?.close()
        for (const socket of sockets) socket.destroy()
      })
    )

    const reopen = Effect.suspend(() => (server === undefined ? open(port) : Effect.void)).pipe(Effect.orDie)
    const pending = yield* FiberHandle.make()
    const apply = (installed: Installed) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const { down, forMs } = installed.spec
        const downUntil = forMs === undefined ? Number.POSITIVE_INFINITY : installed.setAt + forMs
        yield* FiberHandle.clear(pending)
        if (down && now < downUntil) {
          yield* close
          if (forMs !== undefined)
            yield* FiberHandle.run(pending, Effect.zipRight(Effect.sleep(downUntil - now), reopen))
        } else {
          yield* reopen
        }
      })
    yield* apply(yield* target.installed(region))
    yield* target.observe(region, apply)
    return port
  })

/** Both regions listening, each on its own port, and the admin routes on a third, for as long as the scope lasts. */
export const listen = (
  target: Target,
  options: ListenOptions = {}
): Effect.Effect<Listening, ListenError, Scope.Scope> =>
  Effect.gen(function* () {
    const host = options.host ?? "127.0.0.1"
    const base = options.port ?? 0
    const requested = (region: RegionName): number =>
      options.ports?.[region] ?? (base === 0 ? 0 : base + Region.regions.indexOf(region))
    const eu = yield* regionListener(target, "eu", host, requested("eu"))
    const na = yield* regionListener(target, "na", host, requested("na"))
    const adminRequested = options.adminPort ?? (base === 0 ? 0 : base + Region.regions.length)
    const adminPort = yield* AdminListener.listen(
      target,
      host,
      adminRequested,
      (cause) => new ListenError({ region: "admin", port: adminRequested, cause })
    )
    const urlHost = host.includes(":") ? `[${host}]` : host
    const origins = { eu: `http://${urlHost}:${eu}`, na: `http://${urlHost}:${na}` }
    return {
      ports: { eu, na },
      origins,
      urls: { eu: `${origins.eu}/v3`, na: `${origins.na}/v3` },
      admin: `http://${urlHost}:${adminPort}`,
      adminPort
    }
  })
