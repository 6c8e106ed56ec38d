/** Reading a decode result in a test: the value or the error, or a failure saying what came instead. */
import { Either } from "effect"

export const rightOrFail = <A, E>(either: Either.Either<A, E>): A =>
  Either.getOrThrowWith(either, (error) => new Error(`expected success, got: ${String(error)}`))

export const leftOrFail = <A, E>(either: Either.Either<A, E>): E =>
  Either.match(either, {
    onLeft: (error) => error,
    onRight: (value) => {
      throw new Error(`expected failure, got ${JSON.stringify(value)}`)
    }
  })
