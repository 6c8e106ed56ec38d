/**
 * The `convocore` executable: wiring only. Every failure ends here as an exit code of DESIGN.md; a
 * defect prints one line, never a stack trace (which could carry request details).
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Cause, type Console, Effect, Exit, Layer } from "effect"
import { root } from "./Cli.js"
import { ExitCode } from "./ExitCode.js"
import { version } from "./version.js"

const cli = Command.run(root, { name: "convocore", version })

// @effect/cli writes help and usage errors in colour whatever the stream; honour NO_COLOR and pipes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ansiEscape = /\u001b\[[0-9;]*m/g
const colourless = (stream: NodeJS.WriteStream) =>
  stream.isTTY !== true || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "")
const strip = (args: ReadonlyArray<unknown>) =>
  args.map((arg) => (typeof arg === "string" ? arg.replace(ansiEscape, "") : arg))
const withoutColour = (base: Console.Console): Console.Console => ({
  ...base,
  log: (...args) => base.log(...(colourless(process.stdout) ? strip(args) : args)),
  error: (...args) => base.error(...(colourless(process.stderr) ? strip(args) : args))
})

const program = Effect.flatMap(Effect.console, (base) =>
  Effect.withConsole(cli(process.argv), withoutColour(base))
).pipe(
  Effect.matchCauseEffect({
    onSuccess: () => Effect.void,
    onFailure: (cause) =>
      Effect.sync(() => {
        if (Cause.isInterruptedOnly(cause)) return
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") {
          const error = failure.value
          // @effect/cli already printed what was wrong with the command line.
          process.exitCode = ValidationError.isValidationError(error)
            ? ValidationError.isHelpRequested(error)
              ? ExitCode.ok
              : ExitCode.usage
            : error.code
          return
        }
        const defect = Cause.squash(cause)
        process.stderr.write(
          `convocore: internal error: ${defect instanceof Error ? defect.message : String(defect)}\n`
        )
        process.exitCode = ExitCode.internal
      })
  }),
  // What @effect/cli needs, and no more: NodeContext would also load child_process and workers.
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    // Interrupted by SIGINT/SIGTERM: the shell convention for "stopped by a signal".
    onExit(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? 130 : Number(process.exitCode ?? 0))
  }
})
