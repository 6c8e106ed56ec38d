/**
 * The two streams: stdout carries data only, stderr everything said to the user. Writes wait for the
 * stream to drain, so a slow pipe (`| head`, `| jq`) holds the producer back instead of filling memory.
 */
import { Effect } from "effect"

// The reader went away (`convocore ... | head`): stop quietly, as a program killed by SIGPIPE would
// (exit 128 + 13), instead of an unhandled EPIPE error with a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(141)
  process.stderr.write(`convocore: cannot write to stdout: ${error.message}\n`)
  process.exit(1)
})

const writeTo =
  (stream: NodeJS.WriteStream) =>
  (text: string): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      if (stream.write(text)) resume(Effect.void)
      else stream.once("drain", () => resume(Effect.void))
    })

export const stdout = writeTo(process.stdout)
export const stderr = writeTo(process.stderr)
