/**
 * What every compared system provides to the bench. Each system is driven through its own
 * public API only, the way its documentation shows; the bench never reaches into tables,
 * except to seed the history of finished jobs for the retained scenario (`retained`), which
 * no public API writes and which would take hours to produce by processing.
 */

/** A processing setting: a plain concurrency, or the system's documented tuned form. */
export interface Variant {
  /** Stable key used in results, e.g. `c10` or `tuned`. */
  key: string
  /** Shown in tables: what the setting is, in the system's own terms. */
  label: string
  concurrency: number
  tuned?: boolean
  /** Only for systems whose defaults are not one of the concurrency variants. */
  defaults?: boolean
}

export type Payload = { i: number; t0?: number }

/** One open connection of a system to a fresh store, for one measurement. */
export interface Adapter {
  enqueueOne(payload: Payload): Promise<void>
  /** The system's own bulk API, one call for the whole array. */
  enqueueMany(payloads: Payload[]): Promise<void>
  /** Starts one worker; `onJob` is called at the start of every job's handler. */
  work(variant: Variant, onJob: (payload: Payload) => void): Promise<void>
  close(): Promise<void>
}

export type StoreKind = 'postgres' | 'sqlite' | 'redis'

export interface SystemDef {
  name: string
  store: StoreKind
  /** Package whose installed version is reported. */
  pkg: string
  variants: Variant[]
  /** The worker an application gets with no options: used for the pickup-latency scenario. */
  defaultWorker: Variant
  /** `location` is a PostgreSQL URL, a SQLite file path, or a Redis URL; `queue` is unique per measurement. */
  open(location: string, queue: string): Promise<Adapter>
  /**
   * The retained scenario: how to put `count` finished jobs into a fresh store, in the
   * system's own schema and as its completion leaves them, then analyze the tables as a
   * long-lived store would be; or why a retained history does not apply to the system.
   */
  retained: { seed(location: string, queue: string, count: number): Promise<void> } | { na: string }
}

/** Concurrency 1, 10 and 50, the same for every system. */
export const plainVariants = (label: (c: number) => string): Variant[] =>
  [1, 10, 50].map((c) => ({ key: `c${c}`, label: label(c), concurrency: c }))

export const TASK = 'noop'

/** The setting the multi-process, retained and mixed scenarios use: the system's tuned form. */
export const tunedVariant = (system: SystemDef): Variant => {
  const variant = system.variants.find((v) => v.tuned)
  if (!variant) throw new Error(`${system.name} has no tuned setting`)
  return variant
}

/**
 * Spacing of the seeded history: finished jobs created 100 ms apart, the newest a minute
 * before the seed, so 1,000,000 of them span the previous 28 hours (about 10 jobs/s).
 */
export const HISTORY_STEP_MS = 100
export const historyStart = (count: number): number => Date.now() - 60_000 - count * HISTORY_STEP_MS
