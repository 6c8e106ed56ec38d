/**
 * The client against a rate-limited upstream (issue 12, item 5): the sandbox in a child process, EU
 * limited to 100 requests/s (token bucket, burst 20, `Retry-After: 1`), 2,000 ids at concurrency 16
 * through `getConversations`, pinned to EU. Goodput as a fraction of the limit (goal >= 0.9) and the share
 * of requests refused with 429 (goal <= 2%), beside a naive loop of 16 `fetch` workers that only honours
 * `Retry-After`. Then an upstream whose limit halves mid-run: the sandbox's admin route installs
 * `rate=50/s` while the run goes on (installing a fault restarts its bucket, full). Counts come from the
 * sandbox's own counters; the load average is printed with every run (2 shared cores).
 *
 * Run: `cd bench && npx tsx rate-limit.bench.ts` (the packages must be built). BENCH_IDS, BENCH_RUNS,
 * BENCH_ONLY=client.
 */
import { loadavg } from "node:os"
import {
  CircuitBreaker,
  Convocore,
  ConvocoreConfig,
  RateController,
  ResilientHttpClient,
  UndiciTransport
} from "@convocore-effect/client"
import { Fixtures } from "@convocore-effect/sandbox"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { startChild } from "./lib/children.js"

process.setSourceMapsEnabled(false)

const ids = Number(process.env.BENCH_IDS ?? 2000)
const runs = Number(process.env.BENCH_RUNS ?? 1)
/** `BENCH_ONLY=client` skips the naive loop (about 2.5 of the 4 minutes a run takes). */
const naiveToo = process.env.BENCH_ONLY !== "client"
const concurrency = 16
const limit = 100
const spec = (perSecond: number) => `rate=${perSecond}/s,burst=20`
// Every id is the seed's example, which the sandbox serves from stored bytes: generating a document per
// id costs the sandbox child ~10-25 ms of CPU on this shared machine, and would bound the rate below
// the limit being measured. Each id is still its own request.
const agentId = Fixtures.demoAgent
const key = Fixtures.demoApiKey

const sandboxScript = `
import { Sandbox } from "@convocore-effect/sandbox"
import { Effect } from "effect"
const program = Effect.flatMap(Sandbox.Listening, ({ urls }) =>
  Effect.zipRight(Effect.sync(() => process.stdout.write(JSON.stringify(urls) + "\\n")), Effect.never)
)
Effect.runFork(Effect.provide(program, Sandbox.layerListening({})))
`

const main = async () => {
  const urls = JSON.parse(await startChild(["--input-type=module", "-e", sandboxScript], {})) as {
    eu: string
    na: string
  }
  const admin = new URL(urls.eu).origin
  const setLimit = (perSecond: number) =>
    fetch(`${admin}/_sandbox/faults?region=eu`, { method: "PUT", body: spec(perSecond) }).then((r) =>
      r.text()
    )
  const counters = async () => {
    const all = (await (await fetch(`${admin}/_sandbox/counters`)).json()) as {
      eu: { requests: number; byOutcome: Record<string, number> }
    }
    return { requests: all.eu.requests, limited: all.eu.byOutcome["rate-limited"] ?? 0 }
  }
  const convoIds = Array.from({ length: ids }, () => Fixtures.ids.seedExample)

  /** The client: `getConversations`, completion order, pinned to EU; its controller's view at the end. */
  const viaClient = async (onProgress: (done: number) => void) => {
    const runtime = ManagedRuntime.make(
      Convocore.DefaultWithoutDependencies.pipe(
        Layer.provideMerge(ResilientHttpClient.DefaultWithoutDependencies),
        Layer.provideMerge(Layer.merge(CircuitBreaker.Default, RateController.Default)),
        Layer.provideMerge(UndiciTransport.layer),
        Layer.provideMerge(
          ConvocoreConfig.layer({
            apiKey: key,
            euUrl: urls.eu,
            naUrl: urls.na,
            region: "eu",
            regionPolicy: "pinned"
          })
        )
      )
    )
    let done = 0
    let failed = 0
    await runtime.runPromise(
      Effect.flatMap(Convocore, (c) =>
        Stream.runForEach(
          c.getConversations(agentId, Stream.fromIterable(convoIds), { concurrency, order: "completion" }),
          (r) =>
            Effect.sync(() => {
              if (r.result._tag === "Left") failed++
              onProgress(++done)
            })
        )
      )
    )
    const stats = await runtime.runPromise(Effect.map(RateController, (rc) => rc.stats("eu")))
    await runtime.dispose()
    return {
      failed,
      controller: `rate ${stats.rate?.toFixed(0) ?? "unthrottled"}/s, ${stats.sent} sent, ${stats.throttled} 429s`
    }
  }

  /** The naive loop: 16 fetch workers; a 429 waits its `Retry-After` (seconds) and is tried again. */
  const naive = async (onProgress: (done: number) => void) => {
    let next = 0
    let done = 0
    const worker = async () => {
      while (next < convoIds.length) {
        const id = convoIds[next++]!
        while (true) {
          const response = await fetch(`${urls.eu}/agents/${agentId}/convos/${id}`, {
            headers: { authorization: `Bearer ${key}` }
          })
          await response.arrayBuffer()
          if (response.status !== 429) break
          await new Promise((resolve) =>
            setTimeout(resolve, Number(response.headers.get("retry-after") ?? 1) * 1000)
          )
        }
        onProgress(++done)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    return { failed: 0, controller: "" }
  }

  /** One run: the limit at 100/s, halved to 50/s at `halveAt` ms if given; per phase, goodput and 429 share. */
  const measure = async (name: string, run: typeof naive, halveAt?: number) => {
    await setLimit(limit)
    await fetch(`${admin}/_sandbox/counters`, { method: "DELETE" })
    const load = loadavg()[0]!.toFixed(2)
    const start = performance.now()
    let atSwitch: { done: number; ms: number; requests: number; limited: number } | undefined
    let done = 0
    const timer =
      halveAt === undefined
        ? undefined
        : setTimeout(async () => {
            const snapshot = { done, ms: performance.now() - start }
            await setLimit(limit / 2)
            atSwitch = { ...snapshot, ...(await counters()) }
          }, halveAt)
    const result = await run((n) => {
      done = n
    })
    const ms = performance.now() - start
    clearTimeout(timer)
    const end = await counters()
    const phase = (
      label: string,
      rate: number,
      got: number,
      spanMs: number,
      requests: number,
      limited: number
    ) =>
      `| ${name} | ${label} | ${got} | ${(spanMs / 1000).toFixed(1)} | ${((got * 1000) / spanMs / rate).toFixed(2)} | ${((100 * limited) / requests).toFixed(1)}% | ${requests} | ${load} / ${loadavg()[0]!.toFixed(2)} | ${result.failed} | ${result.controller} |`
    if (atSwitch === undefined) return phase("100/s", limit, ids, ms, end.requests, end.limited)
    return [
      phase("100/s", limit, atSwitch.done, atSwitch.ms, atSwitch.requests, atSwitch.limited),
      phase(
        "then 50/s",
        limit / 2,
        ids - atSwitch.done,
        ms - atSwitch.ms,
        end.requests - atSwitch.requests,
        end.limited - atSwitch.limited
      )
    ].join("\n")
  }

  const rows: Array<string> = []
  for (let run = 0; run < runs; run++) {
    rows.push(await measure("client", viaClient))
    if (naiveToo) rows.push(await measure("naive fetch loop", naive))
    rows.push(await measure("client", viaClient, 10_000))
    if (naiveToo) rows.push(await measure("naive fetch loop", naive, 10_000))
    console.error(`run ${run + 1} of ${runs} done`)
  }
  console.log(
    `\n${ids} ids, concurrency ${concurrency}, EU pinned, ${spec(limit)} (Retry-After whole seconds), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`
  )
  console.log(
    "| loop | limit | ids | s | goodput / limit | 429 share | requests | load avg (start / end) | failed ids | client's controller at the end |"
  )
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |")
  console.log(rows.join("\n"))
  process.exit(0)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
