/**
 * What the handler needs of a `node:http` request: its headers as one string each, and its body as
 * text (admin requests carry fault specs; API requests carry nothing the sandbox reads).
 */
import type * as Http from "node:http"

export const readBody = (request: Http.IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    let text = ""
    request.setEncoding("utf8")
    request.on("data", (chunk: string) => {
      text += chunk
    })
    request.on("end", () => resolve(text))
    request.on("error", () => resolve(text))
  })

export const headersOf = (request: Http.IncomingMessage): Record<string, string | undefined> => {
  const headers: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(request.headers))
    headers[name] = Array.isArray(value) ? value.join(", ") : value
  return headers
}
