import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as OutputLock from "../src/OutputLock.js"

const fresh = () => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "convocore-lock-")), "out.ndjson")

/** The pid of a process that has exited. */
const deadPid = () => {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"])
  return Number(child.stdout.toString())
}

describe("OutputLock", () => {
  it("refuses a second holder while the first holds it, naming it; free again once released", () => {
    const output = fresh()
    const release = OutputLock.acquire(output)
    assert.throws(
      () => OutputLock.acquire(output),
      new RegExp(`in use by another export \\(pid ${process.pid} on `)
    )
    release()
    assert.isFalse(Fs.existsSync(OutputLock.lockPath(output)))
    OutputLock.acquire(output)()
  })

  it("takes over a lock whose process is gone", () => {
    const output = fresh()
    Fs.writeFileSync(OutputLock.lockPath(output), JSON.stringify({ pid: deadPid(), host: Os.hostname() }))
    const release = OutputLock.acquire(output)
    assert.strictEqual(JSON.parse(Fs.readFileSync(OutputLock.lockPath(output), "utf8")).pid, process.pid)
    release()
  })

  it.skipIf(!Fs.existsSync("/proc/self/stat"))(
    "takes over a lock whose run was killed but not yet reaped (a zombie, as under an init that does not reap)",
    async () => {
      // sh starts the run, then becomes a `sleep` that never waits for it: killed, the run stays a zombie.
      const parent = spawn("sh", ["-c", "sleep 60 & echo $!; exec sleep 30"], {
        stdio: ["ignore", "pipe", "ignore"]
      })
      try {
        const pid = Number(
          await new Promise<string>((resolve) => parent.stdout.once("data", (d) => resolve(String(d))))
        )
        process.kill(pid, "SIGKILL")
        for (let i = 0; i < 200 && !OutputLock.exitedUnreaped(pid); i++)
          await new Promise((r) => setTimeout(r, 10))
        assert.isTrue(OutputLock.exitedUnreaped(pid), "the killed run is a zombie")
        const output = fresh()
        Fs.writeFileSync(OutputLock.lockPath(output), JSON.stringify({ pid, host: Os.hostname() }))
        const release = OutputLock.acquire(output)
        assert.strictEqual(JSON.parse(Fs.readFileSync(OutputLock.lockPath(output), "utf8")).pid, process.pid)
        release()
      } finally {
        parent.kill("SIGKILL")
      }
    }
  )

  it("does not take over a lock held from another host (its process cannot be checked)", () => {
    const output = fresh()
    Fs.writeFileSync(OutputLock.lockPath(output), JSON.stringify({ pid: deadPid(), host: "elsewhere" }))
    assert.throws(() => OutputLock.acquire(output), /on elsewhere/)
  })
})
