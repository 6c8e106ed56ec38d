// A smoke run of the built CLI and gateway on the Node that runs this file (`.ci/run` runs it on each
// pinned line): `convocore sandbox` with EU down, `convocore conversations get` failing over to NA, an
// export of 300 ids, and the gateway serving one request from the sandbox. Plain Node, no dependency.
// Exits 1 with the first thing that went wrong.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const cli = fileURLToPath(new URL("../apps/cli/dist/convocore.mjs", import.meta.url))
const gateway = fileURLToPath(new URL("../apps/gateway/dist/convocore-gateway.mjs", import.meta.url))
const children = []
let finished = false

const fail = (message) => {
  console.error(`smoke (node ${process.version}): ${message}`)
  for (const child of children) child.kill("SIGKILL")
  process.exit(1)
}
setTimeout(() => fail("took longer than 60 s"), 60_000).unref()

/** Runs to the end; resolves with the exit code and both streams. */
const run = (script, args, env, stdin = "") =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk))
    child.stdin.end(stdin)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Starts a server and resolves once `ready(stdout)` returns a value. */
const start = (script, args, env, ready) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"]
    })
    children.push(child)
    let stdout = ""
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk
      const value = ready(stdout)
      if (value !== undefined) resolve(value)
    })
    child.on("exit", (code) => {
      if (!finished) fail(`${script} ${args.join(" ")} exited ${code}`)
    })
  })

const sandbox = await start(cli, ["sandbox", "--port", "0", "--fault-eu", "down"], {}, (out) =>
  out.includes("CONVOCORE_SANDBOX_ADMIN_URL=") && out.endsWith("\n")
    ? Object.fromEntries(
        out
          .trim()
          .split("\n")
          .map((line) => line.split(/=(.*)/s).slice(0, 2))
      )
    : undefined
)

const got = await run(cli, ["conversations", "get", "agent123", "convo456", "--verbose"], sandbox)
if (got.code !== 0) fail(`get exited ${got.code}: ${got.stderr}`)
if (JSON.parse(got.stdout).ID !== "agent123_convo456") fail(`get printed ${got.stdout.slice(0, 200)}`)
if (!/region eu: connect-failed/.test(got.stderr) || !/region na: ok 200/.test(got.stderr))
  fail(`get did not fail over from EU to NA: ${got.stderr}`)

const ids = Array.from({ length: 300 }, (_, i) => `smoke-${i}`)
const exported = await run(
  cli,
  ["conversations", "export", "agent123", "--ids", "-"],
  sandbox,
  ids.join("\n")
)
const lines = exported.stdout.split("\n").filter((line) => line !== "")
const stray = lines.filter((line) => !line.startsWith("{"))
if (stray.length > 0) fail(`export wrote what is not a document on stdout: ${stray.join(" / ")}`)
if (exported.code !== 0 || lines.length !== ids.length)
  fail(`export exited ${exported.code} with ${lines.length} of ${ids.length} lines: ${exported.stderr}`)
if (new Set(lines.map((line) => JSON.parse(line).ID)).size !== ids.length) fail("export repeated or lost ids")

// Forward mode (no key of its own): the caller's bearer token goes upstream.
const upstream = { CONVOCORE_EU_URL: sandbox.CONVOCORE_EU_URL, CONVOCORE_NA_URL: sandbox.CONVOCORE_NA_URL }
const base = await start(gateway, [], { ...upstream, PORT: "0", HOST: "127.0.0.1" }, (out) => {
  const line = out.split("\n").find((text) => text.includes('"convocore-gateway listening"'))
  return line === undefined ? undefined : JSON.parse(line).url
})
const response = await fetch(`${base}/v3/agents/agent123/convos/convo456`, {
  headers: { authorization: `Bearer ${sandbox.CONVOCORE_API_KEY}` }
})
const body = await response.json()
if (response.status !== 200 || body.data?.ID !== "agent123_convo456")
  fail(`gateway answered ${response.status}: ${JSON.stringify(body).slice(0, 200)}`)

finished = true
for (const child of children) child.kill("SIGTERM")
console.log(`smoke (node ${process.version}): get with failover, export of ${ids.length} ids, gateway: ok`)
