/** The `convocore-gateway` binary: only wiring; the program is ./Main.ts. */
import { main } from "./Main.js"

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`convocore-gateway: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
