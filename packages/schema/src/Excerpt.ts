/**
 * Input echoed in an error message, bounded: a value is quoted whole when short, and cut with its length
 * when long, so that a 1 MB id or setting never becomes a 1 MB error line (or log line, or JSON error).
 */

/** How much of a value an error message shows by default: enough to recognise it. */
export const defaultLimit = 64

/**
 * The value quoted as a JSON string (control characters escaped, so the message stays on one line); past
 * `limit` characters, its first `limit` characters and its length: `"abc…"…(1048576 chars)`.
 */
export const quote = (text: string, limit: number = defaultLimit): string =>
  text.length <= limit ? JSON.stringify(text) : `${JSON.stringify(start(text, limit))}…(${text.length} chars)`

/** Unquoted, for a value inside a larger quoted text: whole when short, else `abc…(1048576 chars)`. */
export const cut = (text: string, limit: number = defaultLimit): string =>
  text.length <= limit ? text : `${start(text, limit)}…(${text.length} chars)`

// Cutting between the halves of a surrogate pair would show half a character.
const start = (text: string, limit: number): string =>
  text.slice(0, isHighSurrogate(text.charCodeAt(limit - 1)) ? limit - 1 : limit)

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff
