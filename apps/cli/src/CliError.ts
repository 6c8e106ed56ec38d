/**
 * The CLI's own failures, beside the client's `ConvocoreError` union. Like those, they are
 * `Schema.TaggedError`s, so `--format json` prints every failure the same way: an object with a `_tag`.
 */
import { Schema } from "effect"

/** A flag, argument, file or setting the user gave cannot be used (exit 2). */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String
}) {}

/** An export finished but some ids failed (exit 8); each failure was listed on stderr. */
export class PartialExport extends Schema.TaggedError<PartialExport>()("PartialExport", {
  exported: Schema.Int,
  failed: Schema.Int,
  message: Schema.String
}) {}

/** Something that is a defect of the CLI or its environment (exit 1): a write failed, a bug. */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", {
  message: Schema.String
}) {}

export const CliError = Schema.Union(UsageError, PartialExport, InternalError)
export type CliError = typeof CliError.Type
