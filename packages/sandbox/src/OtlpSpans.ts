/**
 * Spans read back from OTLP trace exports, in either encoding, for tests that assert on what left the
 * process. The protobuf reader knows only the fields such a test needs (names, ids, kind, attributes,
 * resource) and skips the rest.
 */

export type AttributeValue = string | number | boolean | undefined

export interface ReceivedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  /** OTLP's numbering: 1 internal, 2 server, 3 client. */
  readonly kind: number
  readonly attributes: Readonly<Record<string, AttributeValue>>
  readonly resource: Readonly<Record<string, AttributeValue>>
}

type Field = { readonly no: number; readonly value: bigint | Uint8Array }

const varint = (bytes: Uint8Array, at: number): [bigint, number] => {
  let value = 0n
  let shift = 0n
  let i = at
  for (;;) {
    const byte = bytes[i++] ?? 0
    value |= BigInt(byte & 0x7f) << shift
    shift += 7n
    if (byte < 0x80) return [value, i]
  }
}

/** The fields of one protobuf message, in order: varints as bigints, everything else as bytes. */
const fields = (bytes: Uint8Array): Array<Field> => {
  const out: Array<Field> = []
  let i = 0
  while (i < bytes.length) {
    const [tag, next] = varint(bytes, i)
    const no = Number(tag >> 3n)
    const wire = Number(tag & 7n)
    if (wire === 0) {
      const [value, after] = varint(bytes, next)
      out.push({ no, value })
      i = after
    } else {
      const [length, start] = wire === 2 ? varint(bytes, next) : [wire === 1 ? 8n : 4n, next]
      out.push({ no, value: bytes.subarray(start, start + Number(length)) })
      i = start + Number(length)
    }
  }
  return out
}

const text = (value: bigint | Uint8Array | undefined) =>
  value instanceof Uint8Array ? new TextDecoder().decode(value) : ""
const hex = (value: bigint | Uint8Array | undefined) =>
  value instanceof Uint8Array ? Buffer.from(value).toString("hex") : ""
const bytesOf = (fs: Array<Field>, no: number) =>
  fs.flatMap((f) => (f.no === no && f.value instanceof Uint8Array ? [f.value] : []))
const first = (fs: Array<Field>, no: number) => fs.find((f) => f.no === no)?.value

const anyValue = (fs: Array<Field>): AttributeValue => {
  const [f] = fs
  if (f === undefined) return undefined
  if (f.no === 1) return text(f.value)
  if (f.no === 2) return f.value === 1n
  if (f.no === 3) return Number(f.value)
  if (f.no === 4 && f.value instanceof Uint8Array) return Buffer.from(f.value).readDoubleLE(0)
  return undefined
}

const protoAttributes = (list: Array<Uint8Array>) =>
  Object.fromEntries(
    list.map((kv) => {
      const fs = fields(kv)
      return [text(first(fs, 1)), anyValue(fields(bytesOf(fs, 2)[0] ?? new Uint8Array()))]
    })
  )

/** The spans of an `ExportTraceServiceRequest` in protobuf. */
export const fromProtobuf = (bytes: Uint8Array): Array<ReceivedSpan> =>
  bytesOf(fields(bytes), 1).flatMap((resourceSpans) => {
    const rs = fields(resourceSpans)
    const resource = protoAttributes(bytesOf(fields(bytesOf(rs, 1)[0] ?? new Uint8Array()), 1))
    return bytesOf(rs, 2).flatMap((scope) =>
      bytesOf(fields(scope), 2).map((span) => {
        const s = fields(span)
        const parent = hex(first(s, 4))
        return {
          traceId: hex(first(s, 1)),
          spanId: hex(first(s, 2)),
          parentSpanId: parent === "" ? undefined : parent,
          name: text(first(s, 5)),
          kind: Number(first(s, 6) ?? 0n),
          attributes: protoAttributes(bytesOf(s, 9)),
          resource
        }
      })
    )
  })

interface JsonKeyValue {
  readonly key: string
  readonly value: Record<string, unknown>
}
const jsonValue = (value: Record<string, unknown>): AttributeValue => {
  const v = value.stringValue ?? value.boolValue ?? value.intValue ?? value.doubleValue
  // 64-bit integers may arrive as decimal strings.
  if (typeof v === "string") return value.intValue === undefined ? v : Number(v)
  return typeof v === "number" || typeof v === "boolean" ? v : undefined
}
const jsonAttributes = (list: ReadonlyArray<JsonKeyValue> | undefined) =>
  Object.fromEntries((list ?? []).map(({ key, value }) => [key, jsonValue(value)]))

// The JSON mapping of OTLP, as far as this reader goes.
interface JsonTraces {
  readonly resourceSpans?: ReadonlyArray<{
    readonly resource?: { readonly attributes?: ReadonlyArray<JsonKeyValue> }
    readonly scopeSpans?: ReadonlyArray<{
      readonly spans?: ReadonlyArray<{
        readonly name: string
        readonly traceId: string
        readonly spanId: string
        readonly parentSpanId?: string
        readonly kind?: number
        readonly attributes?: ReadonlyArray<JsonKeyValue>
      }>
    }>
  }>
}

/** The spans of an `ExportTraceServiceRequest` in OTLP's JSON mapping. */
export const fromJson = (bytes: Uint8Array): Array<ReceivedSpan> => {
  // The receiver's own parse of a test's export: a body that is not this shape fails the test.
  const data = JSON.parse(new TextDecoder().decode(bytes)) as JsonTraces
  return (data.resourceSpans ?? []).flatMap((rs) => {
    const resource = jsonAttributes(rs.resource?.attributes)
    return (rs.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        name: span.name,
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId:
          span.parentSpanId === undefined || span.parentSpanId === "" ? undefined : span.parentSpanId,
        kind: span.kind ?? 0,
        attributes: jsonAttributes(span.attributes),
        resource
      }))
    )
  })
}
