/**
 * The export's own cost (issue 12, item 8): against a loopback upstream that costs nothing (a bare
 * `node:http` server in a child process answering the seed's example to every id), 20,000 ids at
 * concurrency 16, exported to NDJSON by
 * - `convocore conversations export` (the built CLI),
 * - a plain `fetch` loop: 16 workers, `JSON.parse`, `JSON.stringify` of `data`, `fs.writeSync` (what a
 *   hand-written exporter does; the goal's yardstick),
 * - a plain `undici.request` loop, the same otherwise (the limit: the same HTTP library as the client's),
 * each in a process of its own: wall time from spawn to exit, and the process's CPU time (user + system,
 * read at exit). Rounds rotate the order; medians are reported, ratios taken within each round.
 *
 * A second table breaks the client's part down in this process: CPU per id of the same calls driven by
 * `Effect.forEach` and by the `getConversations` stream, in completion order (what the export uses) and
 * in input order.
 *
 * Goal: the CLI's time at most 1.5x the fetch loop's; aim for the fetch loop's or better.
 *
 *   cd bench && npx tsx export-cpu.bench.ts      (after a build; BENCH_IDS, BENCH_ROUNDS to change)
 */
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { Convocore, ConvocoreConfig, UndiciTransport } from "@convocore-effect/client"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { usageRunner } from "./lib/child-usage.js"
import { cliBinary, median, range, startBareServer } from "./lib/children.js"
import { machine, table } from "./lib/report.js"

// tsx turns on source-mapped stack traces; measure what production runs.
process.setSourceMapsEnabled(false)

const binary = cliBinary()
const ids = Number(process.env.BENCH_IDS ?? 20_000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const concurrency = 16
const agent = "agent123"
const apiKey = "vg_bench_key"
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-export-cpu-"))
const idsFile = Path.join(work, "ids.txt")
Fs.writeFileSync(idsFile, `${Array.from({ length: ids }, (_, i) => `${agent}_convo${i}`).join("\n")}\n`)

/** A plain exporter: `workers` loops over the ids file, each id fetched with `get` and written as a line. */
const plainExporter = (name: string, imports: string, get: string) => {
  const file = Path.join(work, `${name}.mjs`)
  Fs.writeFileSync(
    file,
    `import fs from "node:fs"
${imports}
const [idsFile, outFile, workers] = process.argv.slice(2)
const base = process.env.CONVOCORE_EU_URL + "/agents/${agent}/convos/"
const headers = { authorization: "Bearer " + process.env.CONVOCORE_API_KEY, accept: "application/json" }
const out = fs.openSync(outFile, "w")
const queue = fs.readFileSync(idsFile, "utf8").split("\\n").filter((id) => id !== "")
let next = 0
let failed = 0
async function worker() {
  while (next < queue.length) {
    const id = queue[next++]
    const { ok, text } = await ${get}
    const body = JSON.parse(text)
    if (ok) fs.writeSync(out, JSON.stringify(body.data) + "\\n")
    else failed++
  }
}
await Promise.all(Array.from({ length: Number(workers) }, worker))
if (failed > 0) process.exitCode = 8
`
  )
  return file
}

const fetchLoop = plainExporter(
  "fetch-loop",
  "",
  "fetch(base + encodeURIComponent(id), { headers }).then(async (r) => ({ ok: r.ok, text: await r.text() }))"
)
const undiciLoop = plainExporter(
  "undici-loop",
  `import { Agent, request } from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve("undici")).href)}
const dispatcher = new Agent({ keepAliveTimeout: 30000 })`,
  "request(base + encodeURIComponent(id), { headers, dispatcher }).then(async (r) => ({ ok: r.statusCode < 300, text: await r.body.text() }))"
)

interface Measured {
  readonly wallMs: number
  readonly cpuMs: number
}

const runWithUsage = usageRunner(work)

const run = async (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  out: string
): Promise<Measured> => {
  Fs.rmSync(out, { force: true })
  const { wallMs, usage } = await runWithUsage(args, env)
  const lines = Fs.readFileSync(out, "utf8").split("\n").length - 1
  if (lines !== ids) throw new Error(`${args[0]} wrote ${lines} of ${ids} lines`)
  return { wallMs, cpuMs: usage.cpuMs }
}

/** CPU per id in this process: the client's calls by `Effect.forEach` and by the stream, both orders. */
const inProcess = async (origin: string) => {
  const runtime = ManagedRuntime.make(
    Convocore.Default.pipe(
      Layer.provide(UndiciTransport.layer),
      Layer.provide(ConvocoreConfig.layer({ apiKey, baseUrl: `${origin}/v3` }))
    )
  )
  const convoIds = Array.from({ length: ids }, (_, i) => `${agent}_convo${i}`)
  const drivers = {
    "Effect.forEach over getConversationWithTrail": (convocore: Convocore) =>
      Effect.forEach(convoIds, (convoId) => convocore.getConversationWithTrail({ agentId: agent, convoId }), {
        concurrency,
        discard: true
      }),
    "getConversations, completion order (the export's)": (convocore: Convocore) =>
      Stream.runDrain(
        convocore.getConversations(agent, Stream.fromIterable(convoIds), { concurrency, order: "completion" })
      ),
    "getConversations, input order": (convocore: Convocore) =>
      Stream.runDrain(convocore.getConversations(agent, Stream.fromIterable(convoIds), { concurrency }))
  }
  type Driver = keyof typeof drivers
  const names = Object.keys(drivers) as Array<Driver>
  const samples = Object.fromEntries(names.map((name) => [name, [] as Array<number>])) as Record<
    Driver,
    Array<number>
  >
  // Warm-up: connections, JIT, the lazily compiled validator.
  for (const name of names) await runtime.runPromise(Effect.flatMap(Convocore, drivers[name]))
  for (let round = 0; round < rounds; round++) {
    for (const name of names.map((_, i) => names[(i + round) % names.length]!)) {
      const before = process.cpuUsage()
      await runtime.runPromise(Effect.flatMap(Convocore, drivers[name]))
      const cpu = process.cpuUsage(before)
      samples[name].push((cpu.user + cpu.system) / ids)
    }
  }
  await runtime.dispose()
  return names.map((name) => [name, median(samples[name]).toFixed(0), range(samples[name])])
}

const main = async () => {
  const port = await startBareServer()
  const origin = `http://127.0.0.1:${port}`
  const env = {
    CONVOCORE_EU_URL: `${origin}/v3`,
    CONVOCORE_NA_URL: `${origin}/v3`,
    CONVOCORE_API_KEY: apiKey
  }
  const out = (name: string) => Path.join(work, `${name}.ndjson`)
  const contenders = {
    "convocore export": () =>
      run(
        [
          binary,
          "conversations",
          "export",
          agent,
          "--ids",
          idsFile,
          "-o",
          out("cli"),
          "--concurrency",
          String(concurrency)
        ],
        env,
        out("cli")
      ),
    "plain fetch loop": () => run([fetchLoop, idsFile, out("fetch"), String(concurrency)], env, out("fetch")),
    "plain undici.request loop": () =>
      run([undiciLoop, idsFile, out("undici"), String(concurrency)], env, out("undici"))
  }
  type Name = keyof typeof contenders
  const names = Object.keys(contenders) as Array<Name>
  const loadBefore = Os.loadavg()
  const samples = Object.fromEntries(names.map((name) => [name, [] as Array<Measured>])) as Record<
    Name,
    Array<Measured>
  >
  for (let round = 0; round < rounds; round++) {
    for (const name of names.map((_, i) => names[(i + round) % names.length]!)) {
      samples[name].push(await contenders[name]())
      console.error(`  round ${round + 1}: ${name} ${samples[name].at(-1)?.wallMs.toFixed(0)} ms`)
    }
  }
  const breakdown = await inProcess(origin)
  const loadAfter = Os.loadavg()

  const yardstick: Name = "plain fetch loop"
  const rows = names.map((name) => {
    const wall = samples[name].map((s) => s.wallMs)
    const cpuPerId = samples[name].map((s) => (s.cpuMs * 1000) / ids)
    const wallRatio = samples[name].map((s, i) => s.wallMs / samples[yardstick][i]!.wallMs)
    const cpuRatio = samples[name].map((s, i) => s.cpuMs / samples[yardstick][i]!.cpuMs)
    return [
      name,
      `${(median(wall) / 1000).toFixed(2)} (${range(
        wall.map((ms) => ms / 1000),
        2
      )})`,
      `${median(wallRatio).toFixed(2)} (${range(wallRatio, 2)})`,
      `${median(cpuPerId).toFixed(0)} (${range(cpuPerId)})`,
      `${median(cpuRatio).toFixed(2)} (${range(cpuRatio, 2)})`
    ]
  })
  const load = (l: ReadonlyArray<number>) => l.map((x) => x.toFixed(2)).join(" / ")
  console.log(`
Export CPU: ${machine()}, ${Os.cpus().length} CPUs; ${ids.toLocaleString("en-US")} ids at concurrency ${concurrency}
from a bare node:http server (child process), NDJSON; ${rounds} rounds, rotating order; medians (range).
Load average (1 / 5 / 15 min) ${load(loadBefore)} before, ${load(loadAfter)} after.

${table(["exporter", "wall s (whole process)", "wall x fetch loop", "CPU µs per id", "CPU x fetch loop"], rows)}

The client's part, in this process (CPU µs per id, median (range) of ${rounds} rounds):

${table(["driver", "CPU µs per id", "range"], breakdown)}
`)
}

main().then(
  () => {
    Fs.rmSync(work, { recursive: true, force: true })
    process.exit(0)
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
