/**
 * An agent's conversations as the list route pages them: which ids, in which order, and the cursor.
 *
 * Nothing is held per conversation. The i-th generated conversation of an agent has an id computed
 * from (seed, agentId, i) and a `ts` computed from i, newest first; its document is the generated one
 * (./Documents.ts) with its timestamps moved to that `ts`, so that the get route, given the id, serves
 * the same document the row was projected from. An agent with 10,000 conversations costs a page's
 * documents per page, never the whole list.
 *
 * The demo agent also lists its fixture documents, placed among the generated ones by their own `ts`.
 */
import type { Conversation } from "@convocore-effect/schema"
import { conversationEnvelopeDecoder } from "@convocore-effect/schema"
import { Either } from "effect"
import * as Documents from "./Documents.js"
import * as Fixtures from "./Fixtures.js"

/** How many generated conversations an agent has. */
export type Counts = (agentId: string) => number

/** The default for an agent with no count of its own: three pages of 20, the last one short. */
export const defaultCount = 45

/** The generated timeline: from mid-July 2026 back to 2020 at the most, two hours apart on average. */
const newestTs = 1_784_400_000
const oldestTs = 1_600_000_000
const maxGapSeconds = 2 * 3600

/** Enough for any benchmark, and well inside the timeline (conversations stay seconds apart). */
export const maxCount = 10_000_000

/** A count as the listing can page it: a whole number from 0 to `maxCount`. */
export const clampCount = (count: number): number =>
  Number.isNaN(count) ? defaultCount : Math.min(maxCount, Math.max(0, Math.floor(count)))

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
/** The last characters of an id carry its index, so the get route can tell a listed id from any other. */
const indexDigits = 6
const idLength = 15

const base62 = (value: number, digits: number): string => {
  let text = ""
  for (let i = 0; i < digits; i++) {
    text = alphabet[value % 62] + text
    value = Math.floor(value / 62)
  }
  return text
}

/** A 15-character id, like a dashboard id: 9 characters hashed from (seed, agent, index), then the index. */
export const listedId = (seed: number, agentId: string, index: number): string => {
  let state = Documents.hashSeed(seed, agentId, `listed:${index}`)
  let prefix = ""
  for (let i = 0; i < idLength - indexDigits; i++) {
    state = Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) ^ i
    prefix += alphabet[(state >>> 0) % 62]
  }
  return prefix + base62(index, indexDigits)
}

/** The index of a listed id of this agent, or undefined for any other id. */
export const indexOf = (
  seed: number,
  agentId: string,
  convoId: string,
  count: number
): number | undefined => {
  if (convoId.length !== idLength) return undefined
  let index = 0
  for (const char of convoId.slice(idLength - indexDigits)) {
    const digit = alphabet.indexOf(char)
    if (digit === -1) return undefined
    index = index * 62 + digit
  }
  return index < count && listedId(seed, agentId, index) === convoId ? index : undefined
}

/** The `ts` of the i-th generated conversation: strictly decreasing in i, with a seeded jitter. */
export const tsAt = (seed: number, agentId: string, count: number, index: number): number => {
  const gap = Math.max(1, Math.min(maxGapSeconds, Math.floor((newestTs - oldestTs) / Math.max(1, count))))
  const jitter = (Documents.hashSeed(seed, agentId, `ts:${index}`) >>> 0) % gap
  return newestTs - index * gap - jitter
}

const timestamps = ["ts", "firstMessageTS", "lastMessageTS", "lastModified"] as const

/** The document with its timestamps moved together, so that their order and spacing are kept. */
const movedTo = (document: Conversation, ts: number): Conversation => {
  const shift = ts - (document.ts ?? ts)
  const moved: { -readonly [K in keyof Conversation]: Conversation[K] } = { ...document, ts }
  for (const key of timestamps) {
    const value = document[key]
    if (key !== "ts" && typeof value === "number") moved[key] = value + shift
  }
  return moved
}

/** The generated document at these ids, as both routes serve it: moved onto the timeline when listed. */
export const document = (seed: number, counts: Counts, agentId: string, convoId: string): Conversation => {
  const generated = Documents.generate(seed, agentId, convoId)
  const count = counts(agentId)
  const index = indexOf(seed, agentId, convoId, count)
  return index === undefined ? generated : movedTo(generated, tsAt(seed, agentId, count, index))
}

/** A fixture document the agent lists. */
interface Pinned {
  readonly convoId: string
  readonly document: Conversation
}

/** The document of a fixture: a document fixture's, or the `data` of an envelope fixture that has one. */
const fixtureDocument = (fixture: Fixtures.Fixture | undefined): Conversation | undefined => {
  if (fixture?._tag === "Document") return fixture.data
  if (fixture?._tag !== "Envelope") return undefined
  return Either.getOrUndefined(conversationEnvelopeDecoder.decodeUnknownEither(fixture.envelope))?.data
}

/**
 * The agent's fixture documents, newest first (a fixture with no `ts` is the oldest of all). Only those
 * whose `ID` is the id they are served at: a client gets a row's document by its `ID`, and the seed's
 * example (`ID` "agent123_convo456", served at "convo456") would lead it to another document.
 */
const pinned = (agentId: string): ReadonlyArray<Pinned> =>
  Object.values(Fixtures.ids)
    .flatMap((convoId): ReadonlyArray<Pinned> => {
      const found = fixtureDocument(Fixtures.lookup(agentId, convoId))
      return found?.ID === convoId ? [{ convoId, document: found }] : []
    })
    .sort((a, b) => (b.document.ts ?? Number.NEGATIVE_INFINITY) - (a.document.ts ?? Number.NEGATIVE_INFINITY))

export interface Listing {
  /** Generated conversations and listed fixtures. */
  readonly total: number
  /** The conversation ids at positions [from, to), in list order. */
  readonly slice: (from: number, to: number) => ReadonlyArray<string>
}

/** The whole list of an agent, newest `ts` first, computed position by position. */
export const of = (seed: number, counts: Counts, agentId: string): Listing => {
  const count = counts(agentId)
  const ts = (index: number) => tsAt(seed, agentId, count, index)
  /** How many generated conversations are newer than `at`: a binary search, since `ts` only decreases. */
  const newerThan = (at: number): number => {
    let low = 0
    let high = count
    while (low < high) {
      const middle = (low + high) >>> 1
      if (ts(middle) > at) low = middle + 1
      else high = middle
    }
    return low
  }
  const fixtures = pinned(agentId).map((fixture, rank) => ({
    ...fixture,
    at: rank + newerThan(fixture.document.ts ?? Number.NEGATIVE_INFINITY)
  }))
  const idAt = (position: number): string => {
    const fixture = fixtures.find((f) => f.at === position)
    if (fixture !== undefined) return fixture.convoId
    return listedId(seed, agentId, position - fixtures.filter((f) => f.at < position).length)
  }
  const total = count + fixtures.length
  return {
    total,
    slice: (from, to) =>
      Array.from({ length: Math.max(0, Math.min(to, total) - from) }, (_, i) => idAt(from + i))
  }
}

/**
 * The cursor of a position: opaque to a client, and checked, so that a cursor of another agent, another
 * seed or no cursor at all is refused rather than read as some position.
 */
export const cursorAt = (seed: number, agentId: string, position: number): string =>
  Buffer.from(`${position}.${check(seed, agentId, position)}`).toString("base64url")

const check = (seed: number, agentId: string, position: number): string =>
  (Documents.hashSeed(seed, agentId, `cursor:${position}`) >>> 0).toString(36)

/** The position a cursor stands for, or undefined if this sandbox never issued it. */
export const positionOf = (seed: number, agentId: string, cursor: string): number | undefined => {
  const match = /^(\d{1,9})\.([0-9a-z]+)$/.exec(Buffer.from(cursor, "base64url").toString("utf8"))
  if (match === null) return undefined
  const position = Number(match[1])
  return match[2] === check(seed, agentId, position) && position > 0 ? position : undefined
}
