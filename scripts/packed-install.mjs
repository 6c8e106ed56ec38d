#!/usr/bin/env node
/**
 * Packs the library packages as a user receives them and installs them in a fresh npm project beside
 * Effect 3, then checks what issue 11 promises: no `workspace:` specifier survives packing, exactly one
 * copy of `effect` is installed, and plain Node can import the packages and make a call.
 *
 * Run after the build (the tarballs hold `dist/`): `node scripts/packed-install.mjs`. It needs the npm
 * registry for effect and @effect/platform; `--prefer-offline` keeps a warm cache from asking again.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const libraries = ["schema", "client", "sandbox"]
// The Effect 3 line the packages' peer ranges name; never `latest`, which is Effect 4.
const beside = ["effect@3.22", "@effect/platform@0.97"]
const started = Date.now()
const isEffect = (name) => name === "effect" || name.startsWith("@effect/")

const fail = (message) => {
  console.error(`packed install: FAILED: ${message}`)
  process.exit(1)
}
const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-packed-"))
try {
  const packs = Path.join(work, "packs")
  const tarballs = libraries.map((name) => {
    const dir = Path.join(root, "packages", name)
    if (!Fs.existsSync(Path.join(dir, "dist", "index.js")))
      fail(`packages/${name}/dist is missing: build first (npx -y pnpm@10.34.9 exec turbo run build)`)
    // `pnpm pack` rewrites `workspace:*` to the version; `npm pack` would leave it for npm to choke on.
    const out = run("npx", ["-y", "pnpm@10.34.9", "pack", "--pack-destination", packs], dir)
    const tarball = out.trim().split("\n").pop() ?? ""
    if (!tarball.endsWith(".tgz")) fail(`pnpm pack in packages/${name} printed no tarball:\n${out}`)
    const manifest = run("tar", ["-xOzf", tarball, "package/package.json"], work)
    if (manifest.includes("workspace:")) fail(`${Path.basename(tarball)} still names a workspace: specifier`)
    // Effect must come from the app: a library that brings its own gets a second copy beside the app's.
    const bundled = Object.keys(JSON.parse(manifest).dependencies ?? {}).filter(isEffect)
    if (bundled.length > 0)
      fail(
        `${Path.basename(tarball)} lists ${bundled.join(", ")} as dependencies; they must be peerDependencies`
      )
    return tarball
  })

  const app = Path.join(work, "app")
  Fs.mkdirSync(app)
  Fs.writeFileSync(
    Path.join(app, "package.json"),
    JSON.stringify({ name: "packed-install-check", private: true, type: "module" })
  )
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...beside, ...tarballs], app)

  const copies = []
  const walk = (dir) => {
    for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const path = Path.join(dir, entry.name)
      if (entry.name === "effect" && Path.basename(dir) === "node_modules") copies.push(path)
      walk(path)
    }
  }
  walk(Path.join(app, "node_modules"))
  if (copies.length !== 1)
    fail(`expected one copy of effect, found ${copies.length}:\n${copies.map((c) => `  ${c}`).join("\n")}`)
  const effectVersion = JSON.parse(Fs.readFileSync(Path.join(copies[0], "package.json"), "utf8")).version

  // Plain Node, no bundler or TypeScript: decode a document, configure the client from values, and get a
  // conversation through the client from the in-process sandbox.
  const program = `
    import { ConversationEnvelope, seedExampleResponse } from "@convocore-effect/schema"
    import { Convocore, ConvocoreConfig } from "@convocore-effect/client"
    import { Fixtures, InProcess, Sandbox } from "@convocore-effect/sandbox"
    import { Effect, Layer, Schema } from "effect"
    const decoded = Schema.decodeUnknownSync(ConversationEnvelope)(seedExampleResponse)
    const config = ConvocoreConfig.layer({
      apiKey: Fixtures.demoApiKey,
      deadline: "30s",
      euUrl: InProcess.defaultBaseUrls.eu,
      naUrl: InProcess.defaultBaseUrls.na
    })
    const conversation = await Effect.runPromise(
      Effect.flatMap(Convocore, (client) =>
        client.getConversation({ agentId: Fixtures.demoAgent, convoId: decoded.data.ID })
      ).pipe(Effect.provide(Convocore.Default.pipe(Layer.provide(config), Layer.provide(Sandbox.layerInProcess()))))
    )
    if (conversation.ID !== decoded.data.ID) throw new Error("got " + conversation.ID)
    console.log(conversation.ID)
  `
  const fetched = run("node", ["--input-type=module", "-e", program], app).trim()
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(
    `packed install: ok: ${libraries.length} tarballs beside effect ${effectVersion} (one copy); plain Node fetched ${fetched} in ${seconds} s`
  )
} catch (error) {
  fail(error.stderr?.toString() || error.message)
} finally {
  Fs.rmSync(work, { recursive: true, force: true })
}
