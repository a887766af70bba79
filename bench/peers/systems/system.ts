/**
 * What every compared system provides to the bench. Each system is driven through its own
 * public API only, the way its documentation shows; the bench never reaches into tables.
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
}

/** Concurrency 1, 10 and 50, the same for every system. */
export const plainVariants = (label: (c: number) => string): Variant[] =>
  [1, 10, 50].map((c) => ({ key: `c${c}`, label: label(c), concurrency: c }))

export const TASK = 'noop'
