import { randomBytes } from 'node:crypto'
import { DEFAULT_RETRY_POLICY } from '../../core/retry.js'
import type { AttemptResult, Lease, NewRun, StoreDriver } from '../driver.js'

/** A store under test: open as many drivers on it as needed, then throw it away. */
export interface ConformanceStore {
  open(): StoreDriver
  cleanup(): Promise<void>
}

export type ConformanceStoreFactory = () => Promise<ConformanceStore>

/** What each sub-suite gets: the store's main driver, and more drivers on the same store. */
export interface SuiteContext {
  driver(): StoreDriver
  /** A separate driver (its own connection) on the same store, closed after the test. */
  another(): StoreDriver
}

/** A fixed origin so tests read in round numbers; every test passes its own `now`. */
export const T0 = new Date('2030-01-01T00:00:00.000Z')

export function at(offsetMs: number): Date {
  return new Date(T0.getTime() + offsetMs)
}

/**
 * A UUID (v7) for `ms`, as the runtime makes them. With `count`, ids of the same `ms` sort
 * by it, as the runtime's ids made in one millisecond do.
 */
export function idAt(ms: number, count?: number): string {
  const bytes = randomBytes(16)
  bytes.writeUIntBE(ms, 0, 6)
  if (count !== undefined) {
    bytes.fill(0, 6, 10)
    bytes.writeUIntBE(count, 10, 6)
  }
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

let sequence = 0

/** A new run, due at T0 unless told otherwise. */
export function newRun(overrides: Partial<NewRun> = {}): NewRun {
  const runAt = overrides.runAt ?? T0
  return {
    id: idAt(T0.getTime(), sequence++),
    task: 'task-a',
    status: 'queued',
    payloadJson: JSON.stringify({ n: sequence }),
    maxAttempts: 3,
    priority: 0,
    queue: null,
    concurrencyKey: null,
    concurrencyLimit: null,
    idempotencyKey: null,
    jobKey: null,
    jobKeyMode: null,
    flags: [],
    metadataJson: '{}',
    retryPolicy: { ...DEFAULT_RETRY_POLICY },
    timeoutMs: 60_000,
    runAt,
    replayOf: null,
    replayReason: null,
    ...overrides,
  }
}

/** Inserts runs and returns their ids, in order. */
export async function insert(driver: StoreDriver, runs: NewRun[], now = T0): Promise<string[]> {
  const results = await driver.runInsertMany({ runs, now })
  return results.map((result) => result.run.id)
}

/** Claims everything due for `task-a` (and `task-b`) as `worker`. */
export function claimAll(driver: StoreDriver, now = T0, limit = 100, workerId = 'w1') {
  return driver.runClaim({ workerId, tasks: ['task-a', 'task-b'], limit, leaseMs: 30_000, now })
}

/** How an attempt ends, without its lease (see {@link finishOne}). */
export type Ending = AttemptResult extends infer R ? (R extends AttemptResult ? Omit<R, keyof Lease | 'workerId'> : never) : never

/** Ends the current attempt of `run` (as claimed) and returns whether it applied. */
export async function finishOne(driver: StoreDriver, run: Lease, ending: Ending, now = T0): Promise<boolean> {
  const [applied] = await driver.runFinishMany({ now, results: [{ ...ending, id: run.id, attempt: run.attempt, workerId: 'w1' } as AttemptResult] })
  return applied ?? false
}
