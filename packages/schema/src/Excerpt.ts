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
export const quote = (text: string, limit: number = defaultLimit): string => {
  if (text.length <= limit) return JSON.stringify(text)
  // Cutting between the halves of a surrogate pair would show half a character.
  const end = isHighSurrogate(text.charCodeAt(limit - 1)) ? limit - 1 : limit
  return `${JSON.stringify(text.slice(0, end))}…(${text.length} chars)`
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff
