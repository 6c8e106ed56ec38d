/**
 * Errors built by the client are data about an attempt. Their stack would only list Effect's fiber runtime
 * (never the caller, who is past an async boundary), and capturing it was the largest single cost of a
 * failed attempt, so they are built with stack traces off. Effect's own `Effect.fn` lowers the limit the
 * same way around the errors it captures.
 */
export const withoutStackTraces = <A>(build: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return build()
  } finally {
    Error.stackTraceLimit = limit
  }
}
