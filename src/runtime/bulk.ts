import { InvalidOptionError, InvalidTransitionError } from '../core/errors.js'
import { FINAL_STATUSES, isFinalStatus, RUN_STATUSES, type RunStatus } from '../core/run-state.js'
import { checkWholeNumber } from '../core/whole-number.js'
import type { RunRecord } from '../storage/driver.js'
import { announce } from './enqueue.js'
import type { ErrandInternals } from './internals.js'
import { cancelRun, listParams, replayOf, type RunFilter } from './runs.js'

/** Options of `runs.cancelMany` and `runs.replayMany`. */
export interface BulkOptions {
  reason?: string
  /** Act on at most this many runs (1 to 10,000). Default 1,000; `more` says whether runs were left. */
  max?: number
}

/** What a bulk action did. */
export interface BulkResult {
  /** Runs that matched and were acted on: for a replay, the new runs' ids. */
  ids: string[]
  /** Runs that matched but changed meanwhile (already final, say) and were left alone. */
  skipped: number
  /** True when `max` was reached before the last matching run. */
  more: boolean
}

/** The runs a bulk action acts on at most, by default and at the most. */
export const DEFAULT_BULK_MAX = 1_000
export const MOST_BULK_MAX = 10_000
const PAGE = 200
/** The statuses `cancelMany` acts on, and those `replayMany` acts on: a filter's others are passed over. */
export const CANCEL_MANY_STATUSES: readonly RunStatus[] = RUN_STATUSES.filter((value) => !isFinalStatus(value))
export const REPLAY_MANY_STATUSES: readonly RunStatus[] = FINAL_STATUSES

function checkBulk(filter: RunFilter, options: BulkOptions, allowed: readonly RunStatus[], what: string) {
  const { task, queue, status, schedule, createdFrom, createdBefore } = filter ?? {}
  if ([task, queue, status, schedule, createdFrom, createdBefore].every((value) => value === undefined)) {
    throw new InvalidOptionError(`${what} needs a filter (task, status, queue, schedule or a creation range); it never acts on every run`)
  }
  const max = checkWholeNumber(options.max ?? DEFAULT_BULK_MAX, 'max', 1, MOST_BULK_MAX)
  const wanted = status === undefined ? allowed : Array.isArray(status) ? status : [status]
  for (const value of wanted) if (!RUN_STATUSES.includes(value)) throw new InvalidOptionError(`Unknown status "${String(value)}"`)
  return { max, statuses: wanted.filter((value) => allowed.includes(value)) }
}

/** Walks the runs matching a filter, newest first, a page at a time, until `max` were handed to `act`. */
async function eachPage(internals: ErrandInternals, filter: RunFilter, statuses: RunStatus[], max: number, act: (runs: RunRecord[]) => Promise<void>): Promise<boolean> {
  let cursor: string | undefined
  let left = max
  for (;;) {
    const page = await internals.driver.runList({ ...listParams({ ...filter, status: statuses, limit: Math.min(PAGE, left) }), cursor })
    await act(page.runs)
    left -= page.runs.length
    if (!page.nextCursor) return false
    if (left <= 0) return true
    cursor = page.nextCursor
  }
}

/** Cancels the runs that match a filter (scheduled, queued or running ones), newest first. */
export async function cancelMany(internals: ErrandInternals, filter: RunFilter, options: BulkOptions = {}): Promise<BulkResult> {
  const { max, statuses } = checkBulk(filter, options, CANCEL_MANY_STATUSES, 'cancelMany')
  await internals.ready()
  const result: BulkResult = { ids: [], skipped: 0, more: false }
  if (statuses.length === 0) return result
  result.more = await eachPage(internals, filter, statuses, max, async (runs) => {
    for (const run of runs) {
      try {
        await cancelRun(internals, run.id, options.reason)
        result.ids.push(run.id)
      } catch (error) {
        if (!(error instanceof InvalidTransitionError)) throw error
        result.skipped++
      }
    }
  })
  return result
}

/** Replays the finished runs that match a filter: one new run each, a page per transaction. */
export async function replayMany(internals: ErrandInternals, filter: RunFilter, options: BulkOptions = {}): Promise<BulkResult> {
  const { max, statuses } = checkBulk(filter, options, REPLAY_MANY_STATUSES, 'replayMany')
  await internals.ready()
  const result: BulkResult = { ids: [], skipped: 0, more: false }
  if (statuses.length === 0) return result
  result.more = await eachPage(internals, filter, statuses, max, async (runs) => {
    const finished = runs.filter((run) => isFinalStatus(run.status))
    result.skipped += runs.length - finished.length
    if (finished.length === 0) return
    const now = internals.clock.now()
    const inserted = await internals.driver.runInsertMany({ now, runs: finished.map((run) => replayOf(run, options.reason, now)) })
    announce(internals, inserted, now)
    result.ids.push(...inserted.map((item) => item.run.id))
  })
  return result
}
