/**
 * The terminal @effect/cli asks for, made when a command first reads from it (a prompt of `--wizard`).
 * NodeTerminal reads `process.stdin` as it is made, and Node builds the standard input stream on that
 * first read (for a terminal, a pipe or a file alike), which a `get` or a `list` never needs (an export
 * of `--ids -` reads `process.stdin` itself). The terminal's size and whether stdout is a terminal are
 * read from stdout, as NodeTerminal reads them.
 */

import * as Terminal from "@effect/platform/Terminal"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Effect, Layer, Scope } from "effect"

export const layer: Layer.Layer<Terminal.Terminal> = Layer.scoped(
  Terminal.Terminal,
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    // Made once, on first use, and closed with the layer's scope as NodeTerminal.layer would be.
    const terminal = yield* Effect.cached(Scope.extend(NodeTerminal.make(), scope))
    return Terminal.Terminal.of({
      columns: Effect.sync(() => process.stdout.columns ?? 0),
      rows: Effect.sync(() => process.stdout.rows ?? 0),
      isTTY: Effect.sync(() => Boolean(process.stdout.isTTY)),
      readInput: Effect.flatMap(terminal, (made) => made.readInput),
      readLine: Effect.flatMap(terminal, (made) => made.readLine),
      display: (prompt) => Effect.flatMap(terminal, (made) => made.display(prompt))
    })
  })
)
