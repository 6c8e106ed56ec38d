/**
 * The sandbox: a fake Convocore V3 with both regions, each with its own faults and counters, served
 * in-process (an `HttpClient` layer, no socket) or by real listeners (one port per region). Both ways
 * run the same handler (./Handler.ts).
 *
 * ```ts
 * // in-process: the client under test gets an HttpClient routed to the sandbox
 * Effect.provide(program, Sandbox.layerInProcess({ faults: { eu: "status=503,first=2" } }))
 * // real listeners for the scope's lifetime
 * const { urls } = yield* Sandbox.listen({ port: 0 })
 * ```
 */
import { Region } from "@convocore-effect/schema"
import { HttpClient } from "@effect/platform"
import { Config, ConfigError, Context, Effect, Either, Layer, Redacted, Ref, type Scope } from "effect"
import * as Counters from "./Counters.js"
import type { FaultSpec, FaultSpecError } from "./FaultSpec.js"
import * as FaultSpecText from "./FaultSpec.js"
import * as Faults from "./Faults.js"
import * as Fixtures from "./Fixtures.js"
import * as Handler from "./Handler.js"
import * as InProcess from "./InProcess.js"
import type * as Listener from "./Listener.js"
import * as Listing from "./Listing.js"

type RegionName = Region.Region

export interface SandboxOptions {
  /** Seed of the generated documents (default 1). */
  readonly seed?: number
  /** Accepted bearer keys (default `vg_sandbox_demo_key`). */
  readonly apiKeys?: ReadonlyArray<string | Redacted.Redacted<string>>
  /** Faults per region at start, as spec text or parsed. */
  readonly faults?: Partial<Record<RegionName, string | FaultSpec>>
  /**
   * Which regions hold an agent's data, over the defaults (every agent in both regions, except
   * `agent-eu-only` and `agent-na-only`).
   */
  readonly placement?: Readonly<Record<string, ReadonlyArray<RegionName>>>
  /**
   * How many generated conversations the list route pages for an agent (default 45; the demo agent also
   * lists its fixture documents). Rows and documents are made per page, so 10,000 cost no memory.
   */
  readonly conversationsPerAgent?: number
  /** Per-agent counts, over `conversationsPerAgent`. */
  readonly conversations?: Readonly<Record<string, number>>
}

export interface Service {
  readonly seed: number
  /** The shared handler; both transports call it. */
  readonly handle: (region: RegionName, request: Handler.SandboxRequest) => Effect.Effect<Handler.Reply>
  /** Installs a region's faults (restarting their count, clock and bucket); listeners apply `down` at once. */
  readonly setFaults: (region: RegionName, spec: string | FaultSpec) => Effect.Effect<void, FaultSpecError>
  readonly faults: (region: RegionName) => Effect.Effect<Faults.FaultStatus>
  readonly counters: (region: RegionName) => Effect.Effect<Counters.Counters>
  /** Both regions when none is given. */
  readonly resetCounters: (region?: RegionName) => Effect.Effect<void>
  readonly installed: (region: RegionName) => Effect.Effect<Faults.Installed>
  /** Runs `observer` on every installation in `region` while the scope lasts (how listeners follow `down`). */
  readonly observe: (
    region: RegionName,
    observer: (installed: Faults.Installed) => Effect.Effect<void>
  ) => Effect.Effect<void, never, Scope.Scope>
}

export class Sandbox extends Context.Tag("@convocore-effect/sandbox/Sandbox")<Sandbox, Service>() {}

/** Where the sandbox answers: the base URLs a client is configured with, for either way of running. */
export class Endpoints extends Context.Tag("@convocore-effect/sandbox/Endpoints")<
  Endpoints,
  { readonly urls: Readonly<Record<RegionName, string>> }
>() {}

/** The running listeners: ports and origins beside the base URLs. */
export class Listening extends Context.Tag("@convocore-effect/sandbox/Listening")<
  Listening,
  Listener.Listening
>() {}

const toSpec = (spec: string | FaultSpec): Either.Either<FaultSpec, FaultSpecError> =>
  typeof spec === "string" ? FaultSpecText.parse(spec) : Either.right(spec)

export const make = (options: SandboxOptions = {}): Effect.Effect<Service, FaultSpecError> =>
  Effect.gen(function* () {
    const seed = options.seed ?? 1
    const initial = yield* Effect.forEach(Region.regions, (region) =>
      toSpec(options.faults?.[region] ?? FaultSpecText.healthy)
    )
    const regionState = (spec: FaultSpec) =>
      Effect.all({ faults: Faults.make(spec), counters: Counters.make, requestIds: Ref.make(0) })
    const regions = {
      eu: yield* regionState(initial[0] ?? FaultSpecText.healthy),
      na: yield* regionState(initial[1] ?? FaultSpecText.healthy)
    }
    const observers = yield* Ref.make<
      ReadonlyArray<{
        readonly region: RegionName
        readonly run: (i: Faults.Installed) => Effect.Effect<void>
      }>
    >([])

    const install = (region: RegionName, spec: FaultSpec) =>
      Effect.gen(function* () {
        const installed = yield* Faults.install(regions[region].faults, spec)
        const watching = yield* Ref.get(observers)
        yield* Effect.forEach(watching, (o) => (o.region === region ? o.run(installed) : Effect.void), {
          discard: true
        })
      })

    const placement = new Map(Fixtures.defaultPlacement)
    for (const [agent, homes] of Object.entries(options.placement ?? {})) placement.set(agent, homes)

    const perAgent = options.conversationsPerAgent ?? Listing.defaultCount
    const counts = new Map(Object.entries(options.conversations ?? {}))
    const handle = Handler.make({
      seed,
      apiKeys: (options.apiKeys ?? [Fixtures.demoApiKey]).map((key) =>
        typeof key === "string" ? Redacted.make(key) : key
      ),
      placement,
      counts: (agentId) => Listing.clampCount(counts.get(agentId) ?? perAgent),
      regions,
      install
    })

    return {
      seed,
      handle,
      setFaults: (region, spec) => Effect.flatMap(toSpec(spec), (parsed) => install(region, parsed)),
      faults: (region) => Faults.status(regions[region].faults),
      counters: (region) => Ref.get(regions[region].counters),
      resetCounters: (region) =>
        Effect.forEach(
          region === undefined ? Region.regions : [region],
          (r) => Ref.set(regions[r].counters, Counters.empty),
          {
            discard: true
          }
        ),
      installed: (region) => Faults.installed(regions[region].faults),
      observe: (region, run) => {
        const entry = { region, run }
        return Effect.acquireRelease(
          Ref.update(observers, (list) => [...list, entry]),
          () => Ref.update(observers, (list) => list.filter((o) => o !== entry))
        )
      }
    } satisfies Service
  })

export const layer = (options: SandboxOptions = {}): Layer.Layer<Sandbox, FaultSpecError> =>
  Layer.effect(Sandbox, make(options))

/** An `HttpClient` answering from the sandbox for both regions' base URLs; no socket is opened. */
export const httpClient = (
  baseUrls: Readonly<Record<RegionName, string>> = InProcess.defaultBaseUrls
): Effect.Effect<HttpClient.HttpClient, never, Sandbox> =>
  Effect.map(Sandbox, (sandbox) => InProcess.makeHttpClient(sandbox.handle, baseUrls))

/**
 * The sandbox in-process: `Sandbox`, an `HttpClient` routed to it and the `Endpoints` to configure a
 * client with (default `http://eu.sandbox.invalid/v3` and `http://na.sandbox.invalid/v3`).
 */
export const layerInProcess = (
  options: SandboxOptions & { readonly baseUrls?: Readonly<Record<RegionName, string>> } = {}
): Layer.Layer<Sandbox | HttpClient.HttpClient | Endpoints, FaultSpecError> => {
  const urls = options.baseUrls ?? InProcess.defaultBaseUrls
  const client = Layer.effect(HttpClient.HttpClient, httpClient(urls))
  return Layer.mergeAll(client, Layer.succeed(Endpoints, { urls })).pipe(Layer.provideMerge(layer(options)))
}

/** Both regions on real loopback listeners for as long as the scope lasts. */
export const listen = (
  options: Listener.ListenOptions = {}
): Effect.Effect<Listener.Listening, Listener.ListenError, Sandbox | Scope.Scope> =>
  Effect.flatMap(Sandbox, (sandbox) =>
    // Loaded when asked for: importing `node:http` as an ES module loads Node's bundled undici (about
    // 30 ms on Node 24), which an in-process sandbox never needs.
    Effect.flatMap(
      Effect.promise(() => import("./Listener.js")),
      (Listener) => Listener.listen(sandbox, options)
    )
  )

export const layerListen = (
  options: Listener.ListenOptions = {}
): Layer.Layer<Listening | Endpoints, Listener.ListenError, Sandbox> =>
  Layer.scopedContext(
    Effect.map(listen(options), (listening) =>
      Context.make(Listening, listening).pipe(Context.add(Endpoints, { urls: listening.urls }))
    )
  )

/** A sandbox and its listeners, as the `convocore sandbox` command runs it. */
export const layerListening = (
  options: SandboxOptions & Listener.ListenOptions = {}
): Layer.Layer<Sandbox | Listening | Endpoints, FaultSpecError | Listener.ListenError> =>
  layerListen(options).pipe(Layer.provideMerge(layer(options)))

const faultConfig = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((text) =>
      Either.mapLeft(FaultSpecText.parse(text), (error) => ConfigError.InvalidData([name], error.message))
    ),
    Config.option
  )

/**
 * Options from configuration (environment by default): `CONVOCORE_SANDBOX_SEED`,
 * `CONVOCORE_SANDBOX_API_KEYS` (comma-separated), `CONVOCORE_SANDBOX_FAULT_EU`, `CONVOCORE_SANDBOX_FAULT_NA`,
 * `CONVOCORE_SANDBOX_CONVERSATIONS` (conversations per agent).
 */
export const optionsConfig: Config.Config<SandboxOptions> = Config.all({
  seed: Config.integer("CONVOCORE_SANDBOX_SEED").pipe(Config.option),
  conversations: Config.integer("CONVOCORE_SANDBOX_CONVERSATIONS").pipe(
    Config.validate({
      message: `Expected a whole number of conversations per agent, 0 to ${Listing.maxCount}`,
      validation: (count) => count >= 0 && count <= Listing.maxCount
    }),
    Config.option
  ),
  apiKeys: Config.redacted("CONVOCORE_SANDBOX_API_KEYS").pipe(Config.option),
  eu: faultConfig("CONVOCORE_SANDBOX_FAULT_EU"),
  na: faultConfig("CONVOCORE_SANDBOX_FAULT_NA")
}).pipe(
  Config.map(({ apiKeys, conversations, eu, na, seed }) => {
    const faults: Partial<Record<RegionName, FaultSpec>> = {}
    if (eu._tag === "Some") faults.eu = eu.value
    if (na._tag === "Some") faults.na = na.value
    return {
      ...(seed._tag === "Some" ? { seed: seed.value } : {}),
      ...(conversations._tag === "Some" ? { conversationsPerAgent: conversations.value } : {}),
      ...(apiKeys._tag === "Some"
        ? {
            apiKeys: Redacted.value(apiKeys.value)
              .split(",")
              .map((key) => key.trim())
              .filter((key) => key !== "")
              .map((key) => Redacted.make(key))
          }
        : {}),
      faults
    }
  })
)
