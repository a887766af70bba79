/**
 * What every errand scenario starts from: a counted driver on the store, an errand
 * instance with one no-op task, migrations applied before any timing.
 */
import { createErrand, type Errand, type TaskHandle, type TaskHandler } from '../../src/index.js'
import { CallCounter, countCalls, countPgQueries } from '../instrument.js'
import type { JobResult } from '../jobs.js'
import { openStore, type StoreSpec } from '../targets.js'

export const TASK = 'bench-noop'

export interface ErrandSession {
  errand: Errand
  task: TaskHandle<unknown, unknown>
  counter: CallCounter
}

type PgCounter = Awaited<ReturnType<typeof countPgQueries>>
/** Round trips on PostgreSQL; started and stopped with the call counter. */
let pgCounter: PgCounter | null = null

/**
 * The task has no input schema and a handler that does nothing, so the figures are the
 * runtime's and the store's costs, not validation's or the handler's.
 */
export async function openSession(spec: StoreSpec, run: TaskHandler<unknown, unknown> = () => undefined): Promise<ErrandSession> {
  const counter = new CallCounter()
  if (spec.kind === 'postgres' && !pgCounter) pgCounter = await countPgQueries()
  if (pgCounter) {
    const pg = pgCounter
    counter.onToggle = (on) => (on ? pg.start() : pg.stop())
  }
  const errand = createErrand({ store: countCalls(await openStore(spec), counter) })
  const task = errand.task(TASK, {}, run)
  await errand.migrate()
  return { errand, task, counter }
}

/** Per-run store figures of a finished measurement. */
export function storeFigures(counter: CallCounter, runs: number): Pick<JobResult, 'commitsPerRun' | 'callsPerRun' | 'calls' | 'roundTripsPerRun'> {
  return {
    // One write transaction per write call, on either store (a lone statement commits by itself).
    commitsPerRun: counter.commits() / runs,
    callsPerRun: counter.calls() / runs,
    ...(pgCounter ? { roundTripsPerRun: pgCounter.total() / runs } : {}),
    calls: counter.stats,
  }
}

export const rssMb = (): number => process.memoryUsage().rss / 2 ** 20
