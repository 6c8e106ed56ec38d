/**
 * A small loopback HTTP client for the tests: Node's own `fetch` (undici), so the sandbox is exercised
 * by a real client over a real socket, and a real-time wait for what happens outside the Effect clock.
 */

import { ConnectFailure } from "@convocore-effect/schema"
import { Effect } from "effect"
import { Fixtures } from "../../src/index.js"

export interface Got {
  readonly status: number
  readonly headers: Headers
  readonly bytes: Uint8Array
  readonly text: string
  readonly json: () => unknown
}

export interface GetOptions {
  /** The bearer key; `null` sends none. Default: the demo key. */
  readonly key?: string | null
  readonly headers?: Record<string, string>
  readonly method?: string
  readonly body?: string
  readonly timeoutMs?: number
}

export const request = (url: string, options: GetOptions = {}): Promise<Got> => {
  const headers: Record<string, string> = { ...options.headers }
  const key = options.key === undefined ? Fixtures.demoApiKey : options.key
  if (key !== null) headers.authorization = `Bearer ${key}`
  return fetch(url, {
    method: options.method ?? "GET",
    headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5_000)
  }).then(async (response) => {
    const bytes = new Uint8Array(await response.arrayBuffer())
    const text = new TextDecoder().decode(bytes)
    return { status: response.status, headers: response.headers, bytes, text, json: () => JSON.parse(text) }
  })
}

export const get = (url: string, options: GetOptions = {}) => Effect.promise(() => request(url, options))

/** The rejection of a request that must fail, or a defect if it succeeded. */
export const getFailure = (url: string, options: GetOptions = {}) =>
  Effect.promise(() =>
    request(url, options).then(
      (got) => {
        throw new Error(`expected a failure, got status ${got.status}`)
      },
      (error: unknown) => error
    )
  )

/** The `code` of an error's cause chain (`ECONNREFUSED`, `ECONNRESET`, `UND_ERR_SOCKET`...). */
export const causeCode = ConnectFailure.errorCode

/** Real time, whatever clock the test runs on. */
export const realSleep = (ms: number) =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Retries `effect` on real time until `done` holds (at most ~2 s), for effects of sockets opening. */
export const eventually = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean): Effect.Effect<A> =>
  Effect.gen(function* () {
    for (let attempt = 0; ; attempt++) {
      const value = yield* effect
      if (done(value) || attempt >= 100) return value
      yield* realSleep(20)
    }
  })

export const convo = (base: string, agentId: string, convoId: string) =>
  `${base}/agents/${encodeURIComponent(agentId)}/convos/${encodeURIComponent(convoId)}`

/** The value at a path in parsed JSON, or undefined: lets a test read a body without asserting its type. */
export const pick = (value: unknown, ...path: ReadonlyArray<string>): unknown => {
  let current = value
  for (const key of path) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, key)) return undefined
    current = Object.getOwnPropertyDescriptor(current, key)?.value
  }
  return current
}

/** The list route of an agent, with a raw query string (`limit=5&cursor=...`), so tests can send anything. */
export const list = (base: string, agentId: string, query = "") =>
  `${base}/agents/${encodeURIComponent(agentId)}/convos${query === "" ? "" : `?${query}`}`
