/**
 * The `Convocore` service as the shared flags ask for it: against the real API (flags over environment
 * variables, through the client's own configuration) or, with `--sandbox`, against an in-process sandbox.
 */
import {
  CircuitBreaker,
  Convocore,
  ConvocoreConfig,
  type GivenSettings,
  RateController,
  ResilientHttpClient
} from "@convocore-effect/client"
import * as TelemetryConfig from "@convocore-effect/client/TelemetryConfig"
// Module by module, not the package index: the index also names the listeners, whose \`node:http\` import
// the bundle would keep (an external module may have side effects), and that import loads Node's undici.
import * as Fixtures from "@convocore-effect/sandbox/Fixtures"
import * as InProcess from "@convocore-effect/sandbox/InProcess"
import * as Sandbox from "@convocore-effect/sandbox/Sandbox"
import { ConfigError, Duration, Effect, Layer, Option, Redacted } from "effect"
import { UsageError } from "./CliError.js"
import type { SharedFlags } from "./Flags.js"
import * as Output from "./Output.js"
import { version } from "./version.js"

/** Every leaf message of a ConfigError, without the nesting. */
const configMessages = (error: ConfigError.ConfigError): ReadonlyArray<string> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...configMessages(error.left), ...configMessages(error.right)]
    case "MissingData":
    case "InvalidData":
    case "SourceUnavailable":
    case "Unsupported":
      return [error.message]
  }
}

export const usageErrorOf = (error: ConfigError.ConfigError): UsageError => {
  const messages = [...new Set(configMessages(error))]
  const missingKey = ConfigError.isMissingDataOnly(error) && messages.some((m) => m.includes("API key"))
  return new UsageError({
    message: missingKey
      ? "no API key: pass --api-key, or set CONVOCORE_API_KEY (or WORKSPACE_SECRET); --sandbox needs none"
      : messages.join("; ")
  })
}

/** The settings the flags give, as values; the client reads the rest from the environment. */
const given = (flags: SharedFlags): GivenSettings => ({
  apiKey: Option.getOrUndefined(flags.apiKey),
  region: Option.getOrUndefined(flags.region),
  regionPolicy: Option.getOrUndefined(flags.regionPolicy),
  attemptTimeout: Option.getOrUndefined(flags.timeout),
  deadline: Option.getOrUndefined(flags.deadline)
})

/** The client as `Convocore.Default` builds it, with its rate controller beside it: an export reports its totals. */
const client = Convocore.DefaultWithoutDependencies.pipe(
  Layer.provide(ResilientHttpClient.DefaultWithoutDependencies),
  Layer.provide(CircuitBreaker.Default),
  Layer.provideMerge(RateController.Default)
)

export type Client = Convocore | RateController

const remote = (flags: SharedFlags): Layer.Layer<Client, UsageError> => {
  const config = ConvocoreConfig.layerConfigWith(given(flags)).pipe(Layer.mapError(usageErrorOf))
  // The client's own undici transport: measurably cheaper per request than the generic platform ones.
  // Imported here only: loading undici (which also wakes Node's own fetch) is not paid by --sandbox.
  const transport = Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("@convocore-effect/client/UndiciTransport")),
      (UndiciTransport) => UndiciTransport.layer
    )
  )
  return client.pipe(Layer.provide(config), Layer.provide(transport))
}

const inProcess = (flags: SharedFlags): Layer.Layer<Client, UsageError> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const options = yield* Effect.mapError(Sandbox.optionsConfig, usageErrorOf)
      const config = ConvocoreConfig.layer({
        ...given(flags),
        // The sandbox accepts its demo key; a key given on the command line is sent as given.
        apiKey: Option.getOrElse(flags.apiKey, () => Redacted.make(Fixtures.demoApiKey)),
        euUrl: InProcess.defaultBaseUrls.eu,
        naUrl: InProcess.defaultBaseUrls.na
      }).pipe(Layer.mapError(usageErrorOf))
      const sandbox = Sandbox.layerInProcess(options).pipe(
        Layer.mapError((error) => new UsageError({ message: error.message }))
      )
      return client.pipe(Layer.provide(config), Layer.provide(sandbox))
    })
  )

/**
 * Spans and metrics over OTLP when an `OTEL_*` variable asks for them (see the README's Telemetry
 * section); the exporter's code is imported only then. Closing the command's scope flushes them, for at
 * most 2 seconds, so a collector that is down never holds a command longer than that.
 */
const telemetry = (): Layer.Layer<never> =>
  TelemetryConfig.layerWhenConfigured({
    serviceName: "convocore",
    serviceVersion: version,
    shutdownTimeout: Duration.seconds(2),
    onProblems: (message) => Output.stderr(`convocore: ${message}\n`)
  })

export const layer = (flags: SharedFlags): Layer.Layer<Client, UsageError> =>
  (flags.sandbox ? inProcess(flags) : remote(flags)).pipe(Layer.provideMerge(telemetry()))
