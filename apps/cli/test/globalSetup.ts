import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

/** Builds dist/ (the CLI entry and chunks): turbo's `test` depends on the dependencies' build only, not this package's. */
export default function setup(): void {
  execFileSync(process.execPath, ["build.mjs"], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: "inherit"
  })
}
