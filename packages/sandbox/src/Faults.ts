/**
 * One region's fault state over time: the installed spec, when it was installed, how many requests it
 * has served (for `first=N`) and its token bucket (for `rate=`). Time is read from Effect's `Clock`, so
 * a test drives `for=` bounds and the bucket with `TestClock`.
 *
 * Installing a spec starts it afresh: its count, its clock and its bucket.
 */
import { Clock, Effect, Ref } from "effect"
import type { FaultSpec } from "./FaultSpec.js"
import { format, healthy, isHealthy } from "./FaultSpec.js"
import * as TokenBucket from "./TokenBucket.js"

export interface Installed {
  readonly spec: FaultSpec
  /** When it was installed, in Clock milliseconds. */
  readonly setAt: number
  /** False for the healthy spec; computed once, since every request asks. */
  readonly faulty: boolean
}

interface Progress {
  readonly installed: Installed
  readonly served: number
  readonly bucket: TokenBucket.TokenBucket | undefined
}

export interface RegionFaults {
  readonly progress: Ref.Ref<Progress>
}

/** What one request meets: the region's active faults and, under `rate=`, the bucket's verdict. */
export interface Taken {
  readonly spec: FaultSpec
  readonly rate: TokenBucket.Decision | undefined
}

export interface FaultStatus {
  readonly spec: string
  /** False once a `first=` or `for=` bound has run out: the region is healthy again. */
  readonly active: boolean
  readonly served: number
  readonly remainingMs?: number
  readonly remainingRequests?: number
}

const fresh = (spec: FaultSpec, now: number): Progress => ({
  installed: { spec, setAt: now, faulty: !isHealthy(spec) },
  served: 0,
  bucket: spec.rate === undefined ? undefined : TokenBucket.make(spec.rate, now)
})

export const isActive = (installed: Installed, served: number, now: number): boolean =>
  installed.faulty &&
  (installed.spec.first === undefined || served < installed.spec.first) &&
  (installed.spec.forMs === undefined || now < installed.setAt + installed.spec.forMs)

export const make = (spec: FaultSpec): Effect.Effect<RegionFaults> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    return { progress: yield* Ref.make(fresh(spec, now)) }
  })

/** Installs a spec afresh and returns the installation, for the listeners to act on. */
export const install = (faults: RegionFaults, spec: FaultSpec): Effect.Effect<Installed> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const next = fresh(spec, now)
    return Effect.as(Ref.set(faults.progress, next), next.installed)
  })

export const installed = (faults: RegionFaults): Effect.Effect<Installed> =>
  Effect.map(Ref.get(faults.progress), (progress) => progress.installed)

/** The faults this request meets, counting it against `first=` and taking its token, atomically. */
export const take = (faults: RegionFaults): Effect.Effect<Taken> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Ref.modify(faults.progress, (progress): readonly [Taken, Progress] => {
      if (!isActive(progress.installed, progress.served, now))
        return [{ spec: healthy, rate: undefined }, progress]
      const served = progress.served + 1
      if (progress.bucket === undefined)
        return [
          { spec: progress.installed.spec, rate: undefined },
          { ...progress, served }
        ]
      const [decision, bucket] = TokenBucket.take(progress.bucket, now)
      return [
        { spec: progress.installed.spec, rate: decision },
        { ...progress, served, bucket }
      ]
    })
  )

export const status = (faults: RegionFaults): Effect.Effect<FaultStatus> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const { installed, served } = yield* Ref.get(faults.progress)
    const active = isActive(installed, served, now)
    const { first, forMs } = installed.spec
    return {
      spec: format(installed.spec),
      active,
      served,
      ...(active && forMs !== undefined ? { remainingMs: installed.setAt + forMs - now } : {}),
      ...(active && first !== undefined ? { remainingRequests: first - served } : {})
    }
  })
