/**
 * Convocore's two regions. Data is stored per region: an agent created in EU is not found through NA.
 */
import { ParseResult, Schema } from "effect"
import * as Excerpt from "./Excerpt.js"

export const Region = Schema.Literal("eu", "na").annotations({ identifier: "Region" })
export type Region = typeof Region.Type

export const regions: ReadonlyArray<Region> = ["eu", "na"]

/** The two servers of the upstream OpenAPI document. */
export const specBaseUrls: Readonly<Record<Region, string>> = {
  eu: "https://eu-gcp-api.vg-stuff.com/v3",
  na: "https://na-gcp-api.vg-stuff.com/v3"
}

export const other = (region: Region): Region => (region === "eu" ? "na" : "eu")

const aliases: Readonly<Record<string, Region>> = { eu: "eu", "eu-gcp": "eu", na: "na", "na-gcp": "na" }

/** Parses `eu`, `na`, `eu-gcp`, `na-gcp` in any case, as Convocore's own tools accept them. */
export const RegionFromString = Schema.transformOrFail(Schema.String, Region, {
  strict: true,
  decode: (input, _, ast) => {
    const region = aliases[input.trim().toLowerCase()]
    return region === undefined
      ? ParseResult.fail(
          new ParseResult.Type(
            ast,
            input,
            `Unknown region ${Excerpt.quote(input)}: expected eu, na, eu-gcp or na-gcp`
          )
        )
      : ParseResult.succeed(region)
  },
  encode: ParseResult.succeed
}).annotations({ identifier: "RegionFromString" })
