/**
 * Durations as a shell user writes them: `500ms`, `2s`, `1.5s`, `1m`, `1h`. The unit is required: a bare
 * `30` could mean seconds or milliseconds, and guessing wrong turns a 30 s deadline into 30 ms.
 */
import { Either } from "effect"

const pattern = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/
const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/** Milliseconds, or a message saying what was expected. */
export const parse = (text: string): Either.Either<number, string> => {
  const match = pattern.exec(text.trim().toLowerCase())
  if (match === null) {
    return Either.left(
      /^\d+(\.\d+)?$/.test(text.trim())
        ? `"${text}" has no unit: write 500ms, 2s, 1m or 1h`
        : `"${text}" is not a duration: write 500ms, 2s, 1m or 1h`
    )
  }
  const ms = Math.round(Number(match[1]) * unitMs[match[2] as keyof typeof unitMs])
  return ms > 0 ? Either.right(ms) : Either.left(`"${text}" must be longer than zero`)
}
