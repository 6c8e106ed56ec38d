/**
 * What `get` writes on stdout. JSON is the document exactly as decoded: the schema's fast decoder
 * returns the parsed object itself, so every key the upstream sent is there, in its order, with its value.
 */
import type { Conversation } from "@convocore-effect/schema"
import * as FieldPaths from "./FieldPaths.js"
import * as LeadCard from "./LeadCard.js"

export type Format = "pretty" | "json" | "yaml"

/** gh's rule: a person at a terminal gets the card, a pipe gets JSON. */
export const defaultFormat = (stdoutIsTty: boolean): Format => (stdoutIsTty ? "pretty" : "json")

/** One compact JSON line: `get --format json` and each line of an NDJSON export. */
export const jsonLine = (document: unknown): string => `${JSON.stringify(document)}\n`

export const render = (
  document: Conversation,
  options: {
    readonly format: Format
    readonly fields: ReadonlyArray<FieldPaths.FieldPath> | undefined
    readonly style: LeadCard.Style
    readonly yaml: (value: unknown) => string
  }
): string => {
  const selected = options.fields === undefined ? document : FieldPaths.select(document, options.fields)
  switch (options.format) {
    case "json":
      return jsonLine(selected)
    case "yaml":
      return options.yaml(selected)
    case "pretty":
      // A card of chosen fields would hide what was asked for: with --fields, show them as YAML.
      return options.fields === undefined ? LeadCard.render(document, options.style) : options.yaml(selected)
  }
}
