/**
 * A set of ids whose memory stays bounded over a whole-history export: the ids added since the last
 * `settle` are all kept (they may come again and must be recognised), and of those settled before, only
 * the latest `keep`, oldest forgotten first.
 */
export interface RecentIds {
  readonly has: (id: string) => boolean
  readonly add: (id: string) => void
  /** The ids added so far may be forgotten, oldest first, beyond `keep`. */
  readonly settle: () => void
}

export const make = (keep: number): RecentIds => {
  let pending = new Set<string>()
  // A Set iterates in insertion order: its first element is the oldest.
  const settled = new Set<string>()
  return {
    has: (id) => pending.has(id) || settled.has(id),
    add: (id) => {
      pending.add(id)
    },
    settle: () => {
      for (const id of pending) {
        settled.delete(id)
        settled.add(id)
      }
      pending = new Set()
      for (const id of settled) {
        if (settled.size <= keep) break
        settled.delete(id)
      }
    }
  }
}
