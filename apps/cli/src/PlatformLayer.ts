/**
 * What @effect/cli needs to run a command line, and no more (NodeContext would also load child_process
 * and workers). Logs (the client's warnings) are diagnostics, so they go to stderr: stdout carries data
 * only.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Layer, Logger } from "effect"
import * as LazyTerminal from "./LazyTerminal.js"

export const layer = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  LazyTerminal.layer,
  Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true }))
)
