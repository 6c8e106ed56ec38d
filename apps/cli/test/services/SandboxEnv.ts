/**
 * The sandbox on real loopback listeners in the test process, and the environment that points the CLI
 * at it. Faults set by a test are cleared by `withFaults` whatever the outcome.
 */
import { Fixtures, Sandbox } from "@convocore-effect/sandbox"
import { Effect } from "effect"

export const layer = Sandbox.layerListening({ port: 0 })

export const env = Effect.map(Sandbox.Listening, (listening) => ({
  CONVOCORE_EU_URL: listening.urls.eu,
  CONVOCORE_NA_URL: listening.urls.na,
  CONVOCORE_API_KEY: Fixtures.demoApiKey
}))

export const withFaults = <A, E, R>(
  faults: { readonly eu?: string; readonly na?: string },
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | Sandbox.Sandbox> =>
  Effect.gen(function* () {
    const sandbox = yield* Sandbox.Sandbox
    if (faults.eu !== undefined) yield* Effect.orDie(sandbox.setFaults("eu", faults.eu))
    if (faults.na !== undefined) yield* Effect.orDie(sandbox.setFaults("na", faults.na))
    return yield* effect
  }).pipe(
    Effect.ensuring(
      Effect.flatMap(Sandbox.Sandbox, (sandbox) =>
        Effect.orDie(Effect.zipRight(sandbox.setFaults("eu", "healthy"), sandbox.setFaults("na", "healthy")))
      )
    )
  )

/** The response body the sandbox serves for these ids, as text, straight from the listener. */
export const served = (agentId: string, convoId: string, region: "eu" | "na" = "eu") =>
  Effect.flatMap(Sandbox.Listening, (listening) =>
    Effect.promise(async () => {
      const response = await fetch(
        `${listening.urls[region]}/agents/${encodeURIComponent(agentId)}/convos/${encodeURIComponent(convoId)}`,
        { headers: { authorization: `Bearer ${Fixtures.demoApiKey}` } }
      )
      return { status: response.status, body: await response.text() }
    })
  )

/** What `get --format json` must print for a served body: its `data`, as JSON writes it. */
export const expectedLine = (body: string): string => `${JSON.stringify(JSON.parse(body).data)}\n`
