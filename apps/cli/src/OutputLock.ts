/**
 * A lock on an export's output while a run writes it, so that two exports into one file cannot
 * interleave their records: `out.ndjson.lock`, created with O_EXCL (`wx`) and holding the owner's pid and
 * host. A lock whose process is gone (a run killed with `kill -9` leaves its lock behind) is stale and
 * taken over at once, so `--resume` right after a crash is never blocked.
 *
 * Not proper-lockfile: it judges a lock stale by its age (the owner refreshes its mtime on a timer, a lock
 * untouched for `stale` ms, 10 s by default, is taken), so a resume right after a `kill -9` would be
 * refused or made to wait, and a run whose event loop is busy for longer than `stale` loses its lock.
 * The owner's pid answers "is it still running" exactly, on the same host.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import { UsageError } from "./CliError.js"

export const lockPath = (output: string): string => `${output}.lock`

interface Owner {
  readonly pid: number
  readonly host: string
}

const readOwner = (path: string): Owner | undefined => {
  try {
    const owner: unknown = JSON.parse(Fs.readFileSync(path, "utf8"))
    if (typeof owner !== "object" || owner === null) return undefined
    const { pid, host } = owner as Record<string, unknown>
    return typeof pid === "number" && typeof host === "string" ? { pid, host } : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether a process of that pid runs here (EPERM: it does, as another user). A killed run that nobody has
 * reaped yet (a zombie: its parent is gone and the container's init does not reap, as in a container
 * without one) still answers the signal test, but will never write again: on Linux its state says so.
 */
const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  return !exitedUnreaped(pid)
}

/** `Z` (zombie) or `X` (dead) in /proc/<pid>/stat; false where there is no /proc. */
export const exitedUnreaped = (pid: number): boolean => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The state is the field after the parenthesised command name, which may itself hold spaces.
    const state = stat.charAt(stat.lastIndexOf(")") + 2)
    return state === "Z" || state === "X"
  } catch {
    return false
  }
}

/**
 * Takes the lock of `output`, or throws a `UsageError` naming the run that holds it. Returns the release,
 * which removes the lock file if it is still this process's.
 */
export const acquire = (output: string): (() => void) => {
  const path = lockPath(output)
  const me: Owner = { pid: process.pid, host: Os.hostname() }
  for (let tries = 0; ; tries++) {
    try {
      Fs.writeFileSync(path, JSON.stringify(me), { flag: "wx" })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || tries > 0) throw error
    }
    const owner = readOwner(path)
    // A lock being written this instant reads as empty: leave it to its writer.
    if (owner === undefined || owner.host !== me.host || running(owner.pid))
      throw new UsageError({
        message: `${output} is in use by another export (${owner === undefined ? "" : `pid ${owner.pid} on ${owner.host}, `}${path}); wait for it to finish, or remove ${path} if that run is gone`
      })
    // Stale: its run is gone. Removed, then taken with O_EXCL again, so two runs taking it over at once
    // cannot both win.
    Fs.rmSync(path, { force: true })
  }
  return () => {
    const owner = readOwner(path)
    if (owner?.pid === me.pid && owner.host === me.host) Fs.rmSync(path, { force: true })
  }
}
