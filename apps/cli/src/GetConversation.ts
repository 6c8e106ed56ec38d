/**
 * `convocore conversations get <agentId> <convoId>`.
 */
import { Convocore } from "@convocore-effect/client"
import { Effect, Either, Option } from "effect"
import type { UsageError } from "./CliError.js"
import * as Connection from "./Connection.js"
import * as DocumentOutput from "./DocumentOutput.js"
import * as ErrorReport from "./ErrorReport.js"
import { ExitWith, ofError } from "./ExitCode.js"
import type * as FieldPaths from "./FieldPaths.js"
import type { SharedFlags } from "./Flags.js"
import * as LeadCard from "./LeadCard.js"
import * as Output from "./Output.js"

export interface GetFlags extends SharedFlags {
  readonly agentId: string
  readonly convoId: string
  readonly format: Option.Option<DocumentOutput.Format>
  readonly fields: Option.Option<ReadonlyArray<FieldPaths.FieldPath>>
}

export const run = (flags: GetFlags): Effect.Effect<void, ExitWith> => {
  const format = Option.getOrElse(flags.format, () =>
    DocumentOutput.defaultFormat(process.stdout.isTTY === true)
  )
  const fail = (error: ErrorReport.Reportable) =>
    Effect.zipRight(
      Output.stderr(`${ErrorReport.line(error, Option.contains(flags.format, "json") ? "json" : "text")}\n`),
      Effect.fail(new ExitWith(ofError(error)))
    )
  return Effect.gen(function* () {
    const convocore = yield* Convocore
    const traced = yield* convocore.getConversationWithTrail({
      agentId: flags.agentId,
      convoId: flags.convoId
    })
    if (flags.verbose) {
      for (const attempt of traced.attempts) yield* Output.stderr(`${ErrorReport.attemptLine(attempt)}\n`)
    }
    if (Either.isLeft(traced.result)) return yield* fail(traced.result.left)
    const document = traced.result.right
    const fields = Option.getOrUndefined(flags.fields)
    const needsYaml = format === "yaml" || (format === "pretty" && fields !== undefined)
    // yaml is CommonJS: its `default` is the module in Node and in the bundle's chunk alike.
    const yaml = needsYaml ? (yield* Effect.promise(() => import("yaml"))).default : undefined
    yield* Output.stdout(
      DocumentOutput.render(document, {
        format,
        fields,
        style: LeadCard.styleFor(process.stdout.isTTY === true, process.env),
        yaml: (value) => (yaml === undefined ? JSON.stringify(value) : yaml.stringify(value))
      })
    )
  }).pipe(
    Effect.provide(Connection.layer(flags)),
    Effect.catchTag("UsageError", (error: UsageError) => fail(error))
  )
}
