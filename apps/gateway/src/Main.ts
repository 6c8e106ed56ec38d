/**
 * The `convocore-gateway` program: read and validate the configuration (exit 2 with every problem listed,
 * no stack trace), start the sandbox in demo mode, serve, and on SIGTERM or SIGINT drain: stop accepting
 * connections, let the requests in flight finish (up to GATEWAY_SHUTDOWN_TIMEOUT), then exit 0 (1 when
 * the timeout had to answer some of them with 503).
 */
import { configWith as clientConfigWith } from "@convocore-effect/client"
import * as TelemetryConfig from "@convocore-effect/client/TelemetryConfig"
import { Excerpt } from "@convocore-effect/schema"
import {
  Cause,
  ConfigError,
  ConfigProvider,
  Effect,
  Either,
  Exit,
  Layer,
  Logger,
  LogLevel,
  Option
} from "effect"
import * as DemoSandbox from "./DemoSandbox.js"
import {
  configErrorMessages,
  defaults,
  InvalidConfiguration,
  raw,
  validate,
  variables
} from "./GatewayConfig.js"
import * as GatewayLogger from "./GatewayLogger.js"
import * as GatewayServer from "./GatewayServer.js"
import { version } from "./version.js"

/** The variables `--help` lists: names, then what they set (on the next line when the names are long). */
const environmentRows: ReadonlyArray<readonly [string, string]> = [
  [`${variables.port}, ${variables.host}`, `where to listen (default ${defaults.host}:${defaults.port})`],
  [variables.auth, "forward (default) | own-key"],
  [variables.callerTokens, "own-key mode: accepted caller tokens, comma-separated"],
  [variables.allowRoutes, "own-key mode: more routes passed on with the gateway's key"],
  [variables.apiKey, "own-key mode: the gateway's own Convocore key"],
  [
    `${variables.cacheTtl}, ${variables.cacheMaxEntries}, ${variables.cacheMaxBytes}, ${variables.staleIfError}, ${variables.staleWhileRevalidate}`,
    "the cache: fresh for 30s by default, its bounds, its stale windows"
  ],
  [variables.listCacheTtl, "how long a page of an agent's conversation list is cached (default 5s)"],
  [
    `${variables.redisUrl}, ${variables.redisTimeout}, ${variables.cacheLockTimeout}`,
    "several replicas sharing a Redis (cache, one upstream call per document)"
  ],
  [variables.upstreamRate, "requests/s to each upstream region for the whole fleet"],
  [`${variables.shutdownTimeout}, ${variables.sandbox}, LOG_LEVEL`, "the drain on SIGTERM, demo mode, logs"],
  [
    `${variables.headersTimeout}, ${variables.requestTimeout}, ${variables.keepAliveTimeout}, ${variables.maxRequestsPerSocket}, ${variables.maxConnections}`,
    "limits on slow and abusive clients"
  ],
  ["CONVOCORE_HEDGE_DELAY", "adaptive (the gateway's default) | off | a duration: race the other region"],
  [
    "CONVOCORE_REGION, CONVOCORE_EU_URL, CONVOCORE_NA_URL, CONVOCORE_BASE_URL, CONVOCORE_DEADLINE and more",
    "upstream settings, read as the Convocore client and CLI read them"
  ]
]
const nameColumn = 30
/** Names joined by commas, wrapped before 100 columns. */
const wrapNames = (names: string): ReadonlyArray<string> =>
  names.split(", ").reduce<Array<string>>((lines, name, i, all) => {
    const piece = i < all.length - 1 ? `${name},` : name
    const last = lines[lines.length - 1]
    if (last !== undefined && last.length + 1 + piece.length <= 96)
      lines[lines.length - 1] = `${last} ${piece}`
    else lines.push(piece)
    return lines
  }, [])
const environment = environmentRows
  .map(([names, what]) =>
    names.length < nameColumn - 1
      ? `  ${names.padEnd(nameColumn)} ${what}`
      : [...wrapNames(names).map((line) => `  ${line}`), `  ${" ".repeat(nameColumn)} ${what}`].join("\n")
  )
  .join("\n")

export const usage = `convocore-gateway ${version}
A drop-in caching, coalescing, region-failover proxy for Convocore's V3 API.

Usage:
  convocore-gateway              serve, configured from the environment
  convocore-gateway --sandbox    demo: start a local fake Convocore (EU and NA) as the upstream
  convocore-gateway --help | --version

Environment (see README.md for the full table):
${environment}
`

/** Exit codes: 0 stopped cleanly, 1 could not run or the drain was cut short, 2 invalid usage or configuration. */
export type ExitCode = 0 | 1 | 2

const logLevels: Readonly<Record<string, LogLevel.LogLevel>> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
}

/**
 * Where the gateway's client defaults differ from a CLI's: a gateway serves many callers at once, so a
 * region that starts to hang must not hold each of them for a 10 s attempt timeout. A call races the
 * other region once its answer is later than the region's recent 95th percentile (the adaptive hedge):
 * with a timeout alone (3 s here), a steady stream of callers got no answer at all for the first 3 s of
 * a hang (bench/gateway-faults.bench.ts), which a proxy in front of many callers cannot afford. The race
 * is forked only for a call still unanswered at the delay (the client's hand-over, docs/design.md); the
 * price is the occasional duplicate upstream request for the slowest 5%;
 * `CONVOCORE_HEDGE_DELAY=off` (or a fixed duration) and the other variables of these names override them.
 */
export const clientDefaults = {
  CONVOCORE_ATTEMPT_TIMEOUT: "3s",
  CONVOCORE_HEDGE_DELAY: "adaptive"
} as const

const withFallbacks = (provider: ConfigProvider.ConfigProvider, fallbacks: ReadonlyMap<string, string>) =>
  provider.pipe(ConfigProvider.orElse(() => ConfigProvider.fromMap(new Map(fallbacks))))

/**
 * The first SIGTERM or SIGINT starts the drain. The handlers stay installed for the process's life, so a
 * second signal (an impatient orchestrator, a double Ctrl-C) does not cut the drain; a third stops at once.
 */
const waitForSignal = Effect.async<NodeJS.Signals>((resume) => {
  let received = 0
  const onSignal = (signal: NodeJS.Signals) => {
    received++
    if (received === 1) return resume(Effect.succeed(signal))
    if (received === 2) {
      process.stderr.write(
        `convocore-gateway: ${signal} again: still draining; a third signal stops at once\n`
      )
      return
    }
    process.stderr.write(`convocore-gateway: ${signal} a third time: stopping without finishing the drain\n`)
    process.exit(130)
  }
  process.on("SIGTERM", onSignal)
  process.on("SIGINT", onSignal)
})

const serve = (sandboxFlag: boolean) =>
  Effect.gen(function* () {
    const input = yield* Effect.mapError(
      raw,
      (error) => new InvalidConfiguration({ problems: configErrorMessages(error) })
    )
    const validated = validate(sandboxFlag ? { ...input, sandbox: "true" } : input)
    if (Either.isLeft(validated)) {
      // The client's settings are checked too, so that one run lists every problem.
      // The key's own rule (own-key mode needs one) is the gateway's, already in `validated`.
      const upstream = yield* Effect.either(clientConfigWith({}, { keyRequired: false }))
      const more = Either.isLeft(upstream) ? configErrorMessages(upstream.left) : []
      return yield* new InvalidConfiguration({ problems: [...validated.left, ...more] })
    }
    const settings = validated.right

    let demoHint = false
    let sandboxUrls: { readonly euUrl: string; readonly naUrl: string } | undefined
    const fallbacks = new Map<string, string>(Object.entries(clientDefaults))
    if (settings.sandbox) {
      const sandbox = yield* Effect.mapError(
        DemoSandbox.start,
        (error) =>
          new InvalidConfiguration({
            problems: ConfigError.isConfigError(error) ? configErrorMessages(error) : [error.message]
          })
      )
      demoHint = sandbox.demoKey && settings.auth === "forward"
      sandboxUrls = { euUrl: sandbox.urls.eu, naUrl: sandbox.urls.na }
      // Own-key mode against the demo sandbox calls it with the sandbox's published key.
      if (settings.auth === "own-key") fallbacks.set("CONVOCORE_API_KEY", DemoSandbox.demoApiKey)
      yield* Effect.logInfo("sandbox upstream started").pipe(
        Effect.annotateLogs({
          eu: sandbox.urls.eu,
          na: sandbox.urls.na,
          admin: `${sandbox.origins.eu}/_sandbox/faults`
        })
      )
    }
    // The sandbox's URLs are values given to the client; the environment fills every other setting.
    const provider = withFallbacks(ConfigProvider.fromEnv(), fallbacks)
    // Forward mode sends each caller's token; the gateway then needs no key of its own.
    const keyRequired = settings.auth === "own-key"
    const client = yield* Effect.withConfigProvider(
      clientConfigWith(sandboxUrls, { keyRequired }),
      provider
    ).pipe(Effect.mapError((error) => new InvalidConfiguration({ problems: configErrorMessages(error) })))

    const gateway = yield* GatewayServer.start(settings, client, { requestLog: GatewayLogger.requestLine })
    yield* Effect.logInfo("convocore-gateway listening").pipe(
      Effect.annotateLogs({
        url: gateway.url,
        auth: settings.auth,
        upstream:
          client.endpoints._tag === "Single"
            ? client.endpoints.url
            : `eu=${client.endpoints.urls.eu} na=${client.endpoints.urls.na}`,
        cacheTtlMs: settings.cache.ttlMs,
        // The published demo key only: a configured key is never logged.
        ...(demoHint
          ? {
              try: `curl -H 'Authorization: Bearer ${DemoSandbox.demoApiKey}' ${gateway.url}/v3/agents/agent123/convos/convo456`
            }
          : {})
      })
    )
    const signal = yield* waitForSignal
    yield* Effect.logInfo("draining").pipe(
      Effect.annotateLogs({ signal, timeoutMs: settings.shutdownTimeoutMs })
    )
    const cut = yield* gateway.drain()
    yield* Effect.logInfo("stopped").pipe(Effect.annotateLogs({ unfinishedRequests: cut }))
    return cut
  }).pipe(Effect.scoped)

/** Runs the program for `argv` (without node and script); resolves to the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<ExitCode> => {
  const flags = new Set(argv)
  if (flags.has("--help") || flags.has("-h")) {
    process.stdout.write(usage)
    return 0
  }
  if (flags.has("--version") || flags.has("-v")) {
    process.stdout.write(`${version}\n`)
    return 0
  }
  const unknown = argv.filter((arg) => arg !== "--sandbox")
  if (unknown.length > 0) {
    process.stderr.write(`convocore-gateway: unknown argument ${unknown[0]}\n\n${usage}`)
    return 2
  }
  const levelName = (process.env.LOG_LEVEL ?? "info").trim().toLowerCase()
  const level = logLevels[levelName]
  if (level === undefined) {
    process.stderr.write(
      `convocore-gateway: invalid configuration\n  - LOG_LEVEL: ${Excerpt.quote(levelName)} is not one of ${Object.keys(logLevels).join(", ")}\n`
    )
    return 2
  }
  const exit = await Effect.runPromiseExit(
    serve(flags.has("--sandbox")).pipe(
      // Spans and metrics over OTLP when an OTEL_* variable asks for them; flushed after the drain.
      Effect.provide(
        TelemetryConfig.layerWhenConfigured({ serviceName: "convocore-gateway", serviceVersion: version })
      ),
      Effect.provide(Layer.merge(GatewayLogger.layer, Logger.minimumLogLevel(level)))
    )
  )
  // 0: every request was answered before the drain ended; 1: the drain's timeout answered some with 503.
  if (Exit.isSuccess(exit)) return exit.value === 0 ? 0 : 1
  const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
  if (failure instanceof InvalidConfiguration) {
    process.stderr.write(
      `convocore-gateway: invalid configuration\n${failure.problems.map((p) => `  - ${p}`).join("\n")}\nRun convocore-gateway --help for the variables it reads.\n`
    )
    return 2
  }
  if (
    failure !== undefined &&
    typeof failure === "object" &&
    "_tag" in failure &&
    failure._tag === "ServeError"
  ) {
    const cause = "cause" in failure ? failure.cause : undefined
    process.stderr.write(
      `convocore-gateway: could not listen: ${cause instanceof Error ? cause.message : String(cause)}\n`
    )
    return 1
  }
  process.stderr.write(`convocore-gateway: ${String(failure ?? exit.cause)}\n`)
  return 1
}
