/**
 * The `Convocore` service as the shared flags ask for it: against the real API (flags over environment
 * variables, through the client's own configuration) or, with `--sandbox`, against an in-process sandbox.
 */
import { Convocore, ConvocoreConfig, type GivenSettings, UndiciTransport } from "@convocore-effect/client"
import { Fixtures, InProcess, Sandbox } from "@convocore-effect/sandbox"
import { ConfigError, Effect, Layer, Option, Redacted } from "effect"
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

/** The settings the flags give, as values; the client reads the rest from the environment. */
const given = (flags: SharedFlags): GivenSettings => ({
  apiKey: Option.getOrUndefined(flags.apiKey),
  region: Option.getOrUndefined(flags.region),
  regionPolicy: Option.getOrUndefined(flags.regionPolicy),
  attemptTimeout: Option.getOrUndefined(flags.timeout),
  deadline: Option.getOrUndefined(flags.deadline)
})

const remote = (flags: SharedFlags): Layer.Layer<Convocore, UsageError> => {
  const config = ConvocoreConfig.layerConfigWith(given(flags)).pipe(Layer.mapError(usageErrorOf))
  // The client's own undici transport: measurably cheaper per request than the generic platform ones.
  return Convocore.Default.pipe(Layer.provide(config), Layer.provide(UndiciTransport.layer))
}

const inProcess = (flags: SharedFlags): Layer.Layer<Convocore, UsageError> =>
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
      return Convocore.Default.pipe(Layer.provide(config), Layer.provide(sandbox))
    })
  )

export const layer = (flags: SharedFlags): Layer.Layer<Convocore, UsageError> =>
  flags.sandbox ? inProcess(flags) : remote(flags)
