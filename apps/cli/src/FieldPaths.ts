/**
 * `--fields a,b.c`: dotted paths into a document. Selecting keeps the nesting (`b.c` gives `{"b":{"c":…}}`)
 * and the order the paths were given in; a path into an array applies to every element
 * (`crmActivities.title` gives each activity's title). Paths that are absent are left out, never invented.
 */
import * as Excerpt from "@convocore-effect/schema/Excerpt"
import { Either } from "effect"

export type FieldPath = ReadonlyArray<string>

/** Parses a comma-separated list of dotted paths; empty segments and duplicates are refused. */
export const parse = (text: string): Either.Either<ReadonlyArray<FieldPath>, string> => {
  const paths: Array<FieldPath> = []
  const seen = new Set<string>()
  for (const raw of text.split(",")) {
    const field = raw.trim()
    if (field === "") return Either.left(`--fields ${Excerpt.quote(text)} has an empty field name`)
    const segments = field.split(".")
    if (segments.some((segment) => segment === ""))
      return Either.left(
        `--fields: ${Excerpt.quote(field)} has an empty segment; write paths like userName or assignedTo.name`
      )
    if (seen.has(field)) return Either.left(`--fields: ${Excerpt.quote(field)} is given twice`)
    seen.add(field)
    paths.push(segments)
  }
  return Either.right(paths)
}

export const format = (path: FieldPath): string => path.join(".")

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The value at a path; through an array, the array of each element's value (absent ones left out). */
export const get = (value: unknown, path: FieldPath): unknown => {
  if (path.length === 0) return value
  const [head, ...rest] = path as [string, ...Array<string>]
  if (Array.isArray(value)) {
    if (/^\d+$/.test(head)) return get(value[Number(head)], rest)
    return value.map((item) => get(item, path)).filter((item) => item !== undefined)
  }
  if (!isRecord(value) || !Object.hasOwn(value, head)) return undefined
  return get(value[head], rest)
}

interface Trie {
  readonly children: Map<string, Trie>
  leaf: boolean
}

const trieOf = (paths: ReadonlyArray<FieldPath>): Trie => {
  const root: Trie = { children: new Map(), leaf: false }
  for (const path of paths) {
    let node = root
    for (const segment of path) {
      let next = node.children.get(segment)
      if (next === undefined) {
        next = { children: new Map(), leaf: false }
        node.children.set(segment, next)
      }
      node = next
    }
    node.leaf = true
  }
  return root
}

const project = (value: unknown, trie: Trie): unknown => {
  if (trie.leaf) return value
  if (Array.isArray(value)) {
    const keys = [...trie.children.keys()]
    if (keys.length > 0 && keys.every((key) => /^\d+$/.test(key)))
      return [...trie.children]
        .map(([index, child]) => project(value[Number(index)], child))
        .filter((item) => item !== undefined)
    return value.map((item) => project(item, trie))
  }
  if (!isRecord(value)) return undefined
  const out: Record<string, unknown> = {}
  for (const [key, child] of trie.children) {
    if (!Object.hasOwn(value, key)) continue
    const selected = project(value[key], child)
    // defineProperty, not assignment: a document key named `__proto__` must stay a plain key.
    if (selected !== undefined)
      Object.defineProperty(out, key, {
        value: selected,
        enumerable: true,
        writable: true,
        configurable: true
      })
  }
  return out
}

/** The document with only the selected paths, nested as in the document. */
export const select = (document: unknown, paths: ReadonlyArray<FieldPath>): unknown =>
  project(document, trieOf(paths)) ?? {}
