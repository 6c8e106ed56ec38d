/**
 * The `convocore` CLI: cold start of `convocore --help` and `convocore conversations get --sandbox` beside
 * `node -e 0`, on this machine's Node (20) and on the pinned Node 24 (from .ci/node-versions, fetched by
 * .ci/node-line) with a warm compile cache and without one; then `conversations export` of 10,000 and
 * 100,000 ids from the sandbox listener at concurrency 16 (conversations per second and the CLI process's
 * peak RSS), beside a plain `fetch` loop doing the same export: a pool of 16 workers, `JSON.parse`, no
 * validation, no retry, NDJSON written with `fs.writeSync`.
 *
 *   cd bench && npx tsx cli.bench.ts        (build first: the entry is apps/cli/dist/convocore.mjs)
 *
 * BENCH_CLI_SIZES (default 10000,100000), BENCH_CLI_RUNS (cold-start runs, default 15),
 * BENCH_CLI_COLD_START_ONLY=1 (measure the cold start alone: no sandbox, no export),
 * BENCH_CLI_BASELINE=/path/to/other/dist/convocore.mjs (another build's entry, e.g. main's copied aside:
 * its cold start is measured in the same runs, interleaved, for an A/B comparison).
 *
 * The ids cycle over 4,000 distinct conversations, which the sandbox keeps in its response cache after a
 * warm-up pass, so that both exporters are measured rather than the sandbox's document generation.
 * Goals: `--help` at most 3x `node -e 0` on Node 20 and on Node 24 with a warm cache, `get --sandbox` at
 * most 5x on Node 24 warm; peak RSS within 20% between the two sizes (flat memory). The machine's load
 * average is printed with the numbers: other work on it moves them.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { readUsage, usageReporter, usageRunner } from "./lib/child-usage.js"
import { cliBinary, median, range, startCliSandbox } from "./lib/children.js"
import { loadAverage, machine, table } from "./lib/report.js"

const binary = cliBinary()
const sizes = (process.env.BENCH_CLI_SIZES ?? "10000,100000").split(",").map(Number)
const runs = Number(process.env.BENCH_CLI_RUNS ?? 15)
const coldStartOnly = process.env.BENCH_CLI_COLD_START_ONLY === "1"
const concurrency = 16
const distinctIds = 4000
const agent = "agent123"
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-cli-bench-"))

// ---- cold start -------------------------------------------------------------------------------------

const repository = fileURLToPath(new URL("..", import.meta.url))
const node24Version =
  Fs.readFileSync(Path.join(repository, ".ci/node-versions"), "utf8")
    .split("\n")
    .find((line) => line.startsWith("24.")) ?? "24"
const node24 = Path.join(
  spawnSync(Path.join(repository, ".ci/node-line"), [node24Version], { encoding: "utf8" }).stdout.trim(),
  "node"
)
if (!Fs.existsSync(node24)) {
  console.error(`Node ${node24Version} is missing: .ci/node-line ${node24Version} fetches it`)
  process.exit(1)
}
const compileCache = Path.join(work, "compile-cache")

interface NodeLine {
  readonly label: string
  readonly node: string
  readonly env: Record<string, string>
}
const nodeLines: ReadonlyArray<NodeLine> = [
  { label: `Node ${process.version.slice(1)}`, node: process.execPath, env: {} },
  {
    label: `Node ${node24Version}, compile cache warm`,
    node: node24,
    env: { NODE_COMPILE_CACHE: compileCache }
  },
  { label: `Node ${node24Version}, no compile cache`, node: node24, env: { NODE_DISABLE_COMPILE_CACHE: "1" } }
]
const baseline = process.env.BENCH_CLI_BASELINE
const commandsOf = (entry: string, suffix: string): Array<readonly [string, ReadonlyArray<string>]> => [
  [`convocore --help${suffix}`, [entry, "--help"]],
  [
    `convocore conversations get --sandbox${suffix}`,
    [entry, "conversations", "get", agent, "convo456", "--sandbox"]
  ]
]
const commands: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["node -e 0", ["-e", "0"]],
  ...commandsOf(binary, ""),
  ...(baseline === undefined ? [] : commandsOf(Path.resolve(baseline), " (baseline)"))
]

const reporter = usageReporter(work)
const usageFile = Path.join(work, "usage.json")

interface Timing {
  readonly wallMs: number
  readonly cpuMs: number
}

const timeRun = (line: NodeLine, args: ReadonlyArray<string>): Timing => {
  const start = performance.now()
  const result = spawnSync(line.node, ["--require", reporter, ...args], {
    stdio: ["ignore", "ignore", "ignore"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      BENCH_USAGE_FILE: usageFile,
      ...line.env
    }
  })
  const wallMs = performance.now() - start
  if (result.status !== 0) throw new Error(`${line.node} ${args.join(" ")} exited ${result.status}`)
  return { wallMs, cpuMs: readUsage(usageFile).cpuMs }
}

const loadBefore = loadAverage()
const coldRows: Array<Array<string>> = []
const ratios = new Map<string, number>()
for (const line of nodeLines) {
  // Once each first: the OS caches the files, and Node 24 fills its compile cache.
  for (const [, args] of commands) timeRun(line, args)
  const samples = commands.map(() => [] as Array<Timing>)
  for (let i = 0; i < runs; i++)
    // Interleaved, so that a noisy moment hurts every command alike.
    commands.forEach(([, args], c) => {
      samples[c]!.push(timeRun(line, args))
    })
  const bareMs = median(samples[0]!.map((t) => t.wallMs))
  const bareCpuMs = median(samples[0]!.map((t) => t.cpuMs))
  commands.forEach(([name], c) => {
    const walls = samples[c]!.map((t) => t.wallMs)
    const ms = median(walls)
    const cpuMs = median(samples[c]!.map((t) => t.cpuMs))
    ratios.set(`${line.label}: ${name}`, ms / bareMs)
    coldRows.push([
      line.label,
      name,
      ms.toFixed(0),
      range(walls),
      (ms / bareMs).toFixed(2),
      cpuMs.toFixed(0),
      (cpuMs / bareCpuMs).toFixed(2)
    ])
  })
}
const loadAfter = loadAverage()

const printColdStart = () => {
  console.log(`## CLI, ${machine()}, ${Os.cpus().length} CPUs\n`)
  console.log(`Cold start, median of ${runs} runs (load average ${loadBefore} before, ${loadAfter} after)\n`)
  console.log(
    table(
      [
        "Node",
        "command",
        "wall ms (median)",
        "wall range ms",
        "x node -e 0",
        "CPU ms (median)",
        "CPU x node -e 0"
      ],
      coldRows
    )
  )
  const ratio = (line: NodeLine, name: string) => (ratios.get(`${line.label}: ${name}`) ?? 0).toFixed(2)
  const [node20, warm] = nodeLines
  console.log(
    `\n--help ${ratio(node20!, "convocore --help")}x on ${node20!.label}, ${ratio(warm!, "convocore --help")}x on ${warm!.label} (goal: at most 3x, aim 2x); get --sandbox ${ratio(warm!, "convocore conversations get --sandbox")}x on ${warm!.label} (goal: at most 5x, aim 3x)`
  )
}
if (coldStartOnly) {
  printColdStart()
  Fs.rmSync(work, { recursive: true, force: true })
  process.exit(0)
}

// ---- export -----------------------------------------------------------------------------------------

const plainExporter = Path.join(work, "plain-fetch-export.mjs")
Fs.writeFileSync(
  plainExporter,
  `import fs from "node:fs"
import readline from "node:readline"
const [idsFile, outFile, concurrency] = process.argv.slice(2)
const base = process.env.CONVOCORE_EU_URL
const headers = { authorization: "Bearer " + process.env.CONVOCORE_API_KEY, accept: "application/json" }
const out = fs.openSync(outFile, "w")
const lines = readline.createInterface({ input: fs.createReadStream(idsFile), crlfDelay: Infinity })[Symbol.asyncIterator]()
let failed = 0
async function worker() {
  for (;;) {
    const next = await lines.next()
    if (next.done) return
    const response = await fetch(base + "/agents/${agent}/convos/" + encodeURIComponent(next.value), { headers })
    const body = JSON.parse(await response.text())
    if (response.ok) fs.writeSync(out, JSON.stringify(body.data) + "\\n")
    else failed++
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker))
if (failed > 0) process.exitCode = 8
`
)

const measure = usageRunner(work)

const countLines = (path: string): number => {
  const text = Fs.readFileSync(path)
  let count = 0
  for (const byte of text) if (byte === 10) count++
  return count
}

const sandbox = await startCliSandbox(binary)
const rows: Array<Array<string>> = []
try {
  const pool = Array.from({ length: distinctIds }, (_, i) => `bench-${i}`)
  const idsFile = (size: number) => {
    const path = Path.join(work, `ids-${size}.txt`)
    const stream = Fs.openSync(path, "w")
    for (let i = 0; i < size; i += distinctIds)
      Fs.writeSync(stream, `${pool.slice(0, Math.min(distinctIds, size - i)).join("\n")}\n`)
    Fs.closeSync(stream)
    return path
  }
  // Warm-up: the sandbox generates each document once and caches its response.
  await measure(
    [plainExporter, idsFile(distinctIds), Path.join(work, "warm.ndjson"), String(concurrency)],
    sandbox.env
  )

  for (const size of sizes) {
    const ids = idsFile(size)
    const exporters = [
      {
        name: "convocore export (NDJSON)",
        args: [
          binary,
          "conversations",
          "export",
          agent,
          "--ids",
          ids,
          "-o",
          Path.join(work, "cli.ndjson"),
          "--concurrency",
          String(concurrency)
        ],
        out: Path.join(work, "cli.ndjson")
      },
      {
        name: "plain fetch loop",
        args: [plainExporter, ids, Path.join(work, "plain.ndjson"), String(concurrency)],
        out: Path.join(work, "plain.ndjson")
      }
    ]
    for (const exporter of exporters) {
      const { wallMs, usage } = await measure(exporter.args, sandbox.env)
      const result = { seconds: wallMs / 1000, peakRssMb: usage.peakRssMb }
      const written = countLines(exporter.out)
      if (written !== size) throw new Error(`${exporter.name} wrote ${written} of ${size} conversations`)
      rows.push([
        size.toLocaleString("en-US"),
        exporter.name,
        Math.round(size / result.seconds).toLocaleString("en-US"),
        result.seconds.toFixed(1),
        result.peakRssMb.toFixed(0)
      ])
      console.error(`  ${exporter.name}, ${size} ids: ${result.seconds.toFixed(1)} s`)
    }
  }
} finally {
  sandbox.stop()
}

const cliRss = rows.filter((row) => row[1]?.startsWith("convocore")).map((row) => Number(row[4]))
const rssSpread = cliRss.length > 1 ? (Math.max(...cliRss) / Math.min(...cliRss) - 1) * 100 : 0

printColdStart()
console.log(`\nExport from the sandbox listener, concurrency ${concurrency}\n`)
console.log(table(["ids", "exporter", "conversations/s", "seconds", "peak RSS MB"], rows))
console.log(`\nconvocore peak RSS spread between sizes: ${rssSpread.toFixed(0)}% (goal: at most 20%)`)
Fs.rmSync(work, { recursive: true, force: true })
