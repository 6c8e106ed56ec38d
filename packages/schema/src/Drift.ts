/**
 * The drift report: what a real document carries beyond the spec. It walks the tolerant schema beside
 * the value and lists each place where the document used one of the reader's tolerances: a key the spec
 * does not list, an enum value outside the spec's list, a `null` where the spec promises a value, a
 * property the spec requires but the document lacks. A document with an empty report passes strict.
 *
 * It reports drift, not breakage: a wrong primitive is a decode error (see `Conversation`), not drift.
 */
import type { Schema, SchemaAST } from "effect"
import { Conversation } from "./Conversation.js"
import { ConversationListPage, ConversationRow } from "./ConversationList.js"
import { LooseStructId, openEnumValues, SpecRequiredId, TolerantNullId } from "./Tolerance.js"

export type DriftEntry =
  | { readonly kind: "unknown-key"; readonly path: string }
  | {
      readonly kind: "off-spec-enum"
      readonly path: string
      readonly value: string
      readonly allowed: ReadonlyArray<string>
    }
  | { readonly kind: "unexpected-null"; readonly path: string }
  | { readonly kind: "missing-required"; readonly path: string }

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** `a.b[2]["odd key"]`: a JavaScript-style path, readable and unambiguous. */
const child = (path: string, key: string | number): string =>
  typeof key === "number"
    ? `${path}[${key}]`
    : identifier.test(key)
      ? path === ""
        ? key
        : `${path}.${key}`
      : `${path}[${JSON.stringify(key)}]`

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const report = (schema: Schema.Schema.Any, document: unknown): ReadonlyArray<DriftEntry> => {
  const entries: Array<DriftEntry> = []
  const walk = (ast: SchemaAST.AST, value: unknown, path: string): void => {
    switch (ast._tag) {
      case "Suspend":
        walk(ast.f(), value, path)
        return
      case "Refinement":
        walk(ast.from, value, path)
        return
      case "Union": {
        const allowed = openEnumValues(ast)
        if (allowed !== undefined) {
          if (typeof value === "string" && !allowed.includes(value))
            entries.push({ kind: "off-spec-enum", path, value, allowed })
          return
        }
        if (value === null && ast.annotations[TolerantNullId] === true) {
          entries.push({ kind: "unexpected-null", path })
          return
        }
        // Only structured members can report anything; scalars that do not match add nothing.
        for (const member of ast.types) walk(member, value, path)
        return
      }
      case "TupleType": {
        const item = ast.rest[0]?.type
        if (Array.isArray(value) && item !== undefined)
          value.forEach((v, i) => {
            walk(item, v, child(path, i))
          })
        return
      }
      case "TypeLiteral": {
        if (!isRecord(value)) return
        const known = new Set<PropertyKey>()
        for (const property of ast.propertySignatures) {
          known.add(property.name)
          const name = String(property.name)
          if (Object.hasOwn(value, name)) walk(property.type, value[name], child(path, name))
          else if (property.annotations[SpecRequiredId] === true)
            entries.push({ kind: "missing-required", path: child(path, name) })
        }
        const loose = ast.annotations[LooseStructId] === true
        const index = ast.indexSignatures[0]
        for (const key of Object.keys(value)) {
          if (known.has(key)) continue
          if (loose) entries.push({ kind: "unknown-key", path: child(path, key) })
          else if (index !== undefined) walk(index.type, value[key], child(path, key))
        }
        return
      }
      default:
        return
    }
  }
  walk(schema.ast, document, "")
  return entries
}

/** The drift of a conversation document (the envelope's `data`). */
export const conversationDrift = (document: unknown): ReadonlyArray<DriftEntry> =>
  report(Conversation, document)

/** The drift of one list row (an item of a list page's `data`). */
export const conversationRowDrift = (row: unknown): ReadonlyArray<DriftEntry> => report(ConversationRow, row)

/** The drift of a whole list page, its rows included (paths such as `data[3].state`). */
export const listPageDrift = (page: unknown): ReadonlyArray<DriftEntry> => report(ConversationListPage, page)
