/**
 * `convocore sandbox`: both regions on loopback until SIGINT/SIGTERM. stdout gets the settings a client
 * needs, as `NAME=value` lines a shell can `eval` or a test can read; the explanation goes to stderr.
 */
import { FaultSpec, Fixtures, Sandbox } from "@convocore-effect/sandbox"
import { Effect, Either, Layer, Option } from "effect"
import { UsageError } from "./CliError.js"
import { usageErrorOf } from "./Connection.js"
import * as ErrorReport from "./ErrorReport.js"
import { ExitWith, ofError } from "./ExitCode.js"
import * as Output from "./Output.js"

export interface SandboxFlags {
  readonly port: number
  readonly faultEu: Option.Option<string>
  readonly faultNa: Option.Option<string>
}

const parseFault = (flag: string, text: Option.Option<string>) =>
  Option.match(text, {
    onNone: () => Either.right(undefined),
    onSome: (spec) =>
      Either.mapBoth(FaultSpec.parse(spec), {
        onLeft: (error) => new UsageError({ message: `--${flag}: ${error.message}` }),
        onRight: (parsed) => parsed
      })
  })

export const run = (flags: SandboxFlags): Effect.Effect<void, ExitWith> =>
  Effect.gen(function* () {
    // Three ports from --port: EU, NA and the admin routes.
    if (!Number.isInteger(flags.port) || flags.port < 0 || flags.port > 65533)
      return yield* new UsageError({ message: `--port ${flags.port}: expected 0 to 65533` })
    const fromEnv = yield* Effect.mapError(Sandbox.optionsConfig, usageErrorOf)
    const eu = yield* parseFault("fault-eu", flags.faultEu)
    const na = yield* parseFault("fault-na", flags.faultNa)
    const faults = {
      ...fromEnv.faults,
      ...(eu === undefined ? {} : { eu }),
      ...(na === undefined ? {} : { na })
    }
    const listening = Sandbox.layerListening({ ...fromEnv, faults, port: flags.port }).pipe(
      Layer.mapError((error) => new UsageError({ message: error.message }))
    )
    yield* Effect.gen(function* () {
      const { admin, urls } = yield* Sandbox.Listening
      const sandbox = yield* Sandbox.Sandbox
      yield* Output.stdout(
        `CONVOCORE_EU_URL=${urls.eu}\nCONVOCORE_NA_URL=${urls.na}\nCONVOCORE_API_KEY=${Fixtures.demoApiKey}\nCONVOCORE_SANDBOX_ADMIN_URL=${admin}\n`
      )
      const describe = (region: "eu" | "na") => Effect.map(sandbox.faults(region), (status) => status.spec)
      yield* Output.stderr(
        [
          `convocore sandbox (seed ${sandbox.seed}): EU ${urls.eu} [${yield* describe("eu")}], NA ${urls.na} [${yield* describe("na")}]`,
          `  try: CONVOCORE_EU_URL=${urls.eu} CONVOCORE_NA_URL=${urls.na} CONVOCORE_API_KEY=${Fixtures.demoApiKey} convocore conversations get ${Fixtures.demoAgent} ${Fixtures.ids.seedExample}`,
          `  admin, up whatever the faults: ${admin}/_sandbox/faults and /_sandbox/counters (see the sandbox README)`,
          `    e.g. curl -X PUT --data down '${admin}/_sandbox/faults?region=eu'; curl -X DELETE ${admin}/_sandbox/faults`,
          "  Ctrl-C stops",
          ""
        ].join("\n")
      )
      return yield* Effect.never
    }).pipe(Effect.provide(listening))
  }).pipe(
    Effect.catchTag("UsageError", (error) =>
      Effect.zipRight(
        Output.stderr(`${ErrorReport.line(error, "text")}\n`),
        Effect.fail(new ExitWith(ofError(error)))
      )
    )
  )
