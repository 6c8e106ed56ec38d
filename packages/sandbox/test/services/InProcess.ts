/** The sandbox's in-process transport, as a client under test uses it. */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { Fixtures, Sandbox } from "../../src/index.js"

/** A GET with the demo key through the in-process client: status, headers and body bytes as text. */
export const fetchInProcess = (url: string, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.get(url).pipe(
        HttpClientRequest.bearerToken(Fixtures.demoApiKey),
        HttpClientRequest.setHeaders(headers)
      )
    )
    return { status: response.status, headers: response.headers, text: yield* response.text }
  })

export const inProcess = (options: Sandbox.SandboxOptions = {}) => Sandbox.layerInProcess(options)
