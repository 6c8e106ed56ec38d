/**
 * The `Convocore` service as the shared flags ask for it: against the real API (flags over environment
 * variables, through the client's own configuration) or, with `--sandbox`, against an in-process sandbox.
 */
import { Convocore, ConvocoreConfig } from "@convocore-effect/client"
import { Fixtures, InProcess, Sandbox } from "@convocore-effect/sandbox"
import { ConfigError, ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { UsageError } from "./CliError.js"
import type { SharedFlags } from "./Flags.js"

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

const overrides = (flags: SharedFlags): Map<string, string> => {
  const map = new Map<string, string>()
  if (Option.isSome(flags.apiKey)) map.set("CONVOCORE_API_KEY", Redacted.value(flags.apiKey.value))
  if (Option.isSome(flags.region)) map.set("CONVOCORE_REGION", flags.region.value)
  if (Option.isSome(flags.regionPolicy)) map.set("CONVOCORE_REGION_POLICY", flags.regionPolicy.value)
  // A bare number is milliseconds to the client's configuration.
  if (Option.isSome(flags.timeout)) map.set("CONVOCORE_ATTEMPT_TIMEOUT", String(flags.timeout.value))
  if (Option.isSome(flags.deadline)) map.set("CONVOCORE_DEADLINE", String(flags.deadline.value))
  return map
}

const remote = (flags: SharedFlags): Layer.Layer<Convocore, UsageError> => {
  const provider = ConfigProvider.fromMap(overrides(flags)).pipe(
    ConfigProvider.orElse(() => ConfigProvider.fromEnv())
  )
  const config = ConvocoreConfig.layerConfig.pipe(
    Layer.provide(Layer.setConfigProvider(provider)),
    Layer.mapError(usageErrorOf)
  )
  // The client's own undici transport: measurably cheaper per request than the generic platform ones.
  // Imported here only: loading undici (which also wakes Node's own fetch) is not paid by --sandbox.
  const transport = Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("@convocore-effect/client/UndiciTransport")),
      (UndiciTransport) => UndiciTransport.layer
    )
  )
  return Convocore.Default.pipe(Layer.provide(config), Layer.provide(transport))
}

const inProcess = (flags: SharedFlags): Layer.Layer<Convocore, UsageError> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const options = yield* Effect.mapError(Sandbox.optionsConfig, usageErrorOf)
      const config = ConvocoreConfig.layer({
        // The sandbox accepts its demo key; a key given on the command line is sent as given.
        apiKey: Option.getOrElse(flags.apiKey, () => Redacted.make(Fixtures.demoApiKey)),
        region: Option.getOrUndefined(flags.region),
        regionPolicy: Option.getOrUndefined(flags.regionPolicy),
        attemptTimeout: Option.getOrUndefined(flags.timeout),
        deadline: Option.getOrUndefined(flags.deadline),
        euUrl: InProcess.defaultBaseUrls.eu,
        naUrl: InProcess.defaultBaseUrls.na
      }).pipe(Layer.mapError(usageErrorOf))
      const sandbox = Sandbox.layerInProcess(options).pipe(
        Layer.mapError((error) => new UsageError({ message: error.message }))
      )
      return Convocore.Default.pipe(Layer.provide(config), Layer.provide(sandbox))
    })
  )

export const layer = (flags: SharedFlags): Layer.Layer<Convocore, UsageError> =>
  flags.sandbox ? inProcess(flags) : remote(flags)
