import { InvalidOptionError, InvalidTransitionError, RunNotFoundError } from '../core/errors.js'
import { parseDuration, type Duration } from '../core/durations.js'
import type { Attempt, Run, RunLog, Step } from '../core/run.js'
import { isFinalStatus, RUN_STATUSES, type RunStatus } from '../core/run-state.js'
import { checkWholeNumber } from '../core/whole-number.js'
import type { NewRun, RunRecord } from '../storage/driver.js'
import { cancelMany, replayMany, type BulkOptions, type BulkResult } from './bulk.js'
import { checkName } from '../core/queue-options.js'
import { announce, createRunHandle, taskNameOf } from './enqueue.js'
import { countRuns, runActivity, type RunActivity, type RunActivityOptions, type RunCounts } from './insights.js'
import { RunChangeFeed, type RunChangeListener } from './run-watch.js'
import { newRunId } from './ids.js'
import type { ErrandInternals } from './internals.js'
import { toPublicRun } from './public-run.js'
import type { RunHandle } from './run-handle.js'
import type { AnyTaskDefinition } from './task.js'
import { expectCompleted, waitForFinalRun } from './wait.js'

/** Which runs: every field given must match. */
export interface RunFilter {
  task?: string
  status?: RunStatus | RunStatus[]
  queue?: string
  /** Only runs made by the schedule with this key (its ticks and triggers). */
  schedule?: string
  /** Runs created at or after this time (a Date or an ISO 8601 string). */
  createdFrom?: Date | string
  /** Runs created before this time (a Date or an ISO 8601 string). */
  createdBefore?: Date | string
}

/** Filters and paging of `runs.list`. */
export interface RunListOptions extends RunFilter {
  /** 1 to 1000. Default 50. */
  limit?: number
  /** `nextCursor` of the previous page. */
  cursor?: string
}

export interface RunList {
  runs: Run[]
  nextCursor: string | null
}

/** What `runs.cancelByJobKey` did. */
export interface JobKeyCancellation {
  /** True when the key's run had not started and is now cancelled. */
  cancelled: boolean
  /** The key's run: the one cancelled, or the one left alone because it had started or finished. Null when the key has none. */
  run: Run | null
}

/** Reading and managing runs: `errand.runs`. */
export interface RunsApi {
  get(id: string): Promise<Run | null>
  /** Newest first, with cursor paging. */
  list(options?: RunListOptions): Promise<RunList>
  /** Scheduled and queued runs stop at once; a running one has its `ctx.signal` aborted. */
  cancel(id: string, options?: { reason?: string }): Promise<Run>
  /**
   * Removes the pending work of a job key: cancels the key's run if it has not started, and
   * frees the key, so the next enqueue with it creates a run whatever the mode. A run that
   * has started (running, or waiting for a retry) or finished is left alone and returned
   * with `cancelled: false`; cancel it by id to stop it.
   */
  cancelByJobKey(task: string | AnyTaskDefinition, jobKey: string, options?: { reason?: string }): Promise<JobKeyCancellation>
  /** A new run of the same task and payload, with `replayOf` set. Only for finished runs. */
  replay(id: string, options?: { reason?: string }): Promise<RunHandle>
  /** Waits until the run completes; throws `RunFailedError` / `RunCancelledError` / `WaitTimeoutError`. */
  wait(id: string, options?: { timeout?: Duration }): Promise<Run>
  /** Every attempt, oldest first, the one in progress included. */
  attempts(id: string): Promise<Attempt[]>
  /** The run's completed durable steps, in the order they completed. */
  steps(id: string): Promise<Step[]>
  /** What the handler logged with `ctx.log`, oldest first; the newest `limit` (default 1000). */
  logs(id: string, options?: { limit?: number }): Promise<RunLog[]>
  /** Counts by status, per task and per queue, from counters the store maintains (no table scan). */
  counts(): Promise<RunCounts>
  /** Runs that ended per time bucket over a recent window (default the last hour, per minute). */
  activity(options?: RunActivityOptions): Promise<RunActivity>
  /** Cancels every scheduled, queued or running run that matches a filter, up to `max`. */
  cancelMany(filter: RunFilter, options?: BulkOptions): Promise<BulkResult>
  /** Replays every finished run that matches a filter, up to `max`. */
  replayMany(filter: RunFilter, options?: BulkOptions): Promise<BulkResult>
  /**
   * Calls `listener` with runs that change from now on, in this process or any other on the
   * same store (the store is polled every `interval`, default `'500ms'`). Lease renewals count
   * as changes. Returns a function that stops listening.
   */
  watch(listener: RunChangeListener, options?: { interval?: Duration; onError?: (error: unknown) => void }): () => void
}

export function createRunsApi(internals: ErrandInternals): RunsApi {
  const feeds = new Map<number, RunChangeFeed>()
  const errorListeners = new Set<(error: unknown) => void>()
  return {
    async get(id) {
      await internals.ready()
      const record = await internals.driver.runGet({ id })
      return record ? toPublicRun(record) : null
    },
    async list(options = {}) {
      await internals.ready()
      const { runs, nextCursor } = await internals.driver.runList(listParams(options))
      return { runs: runs.map(toPublicRun), nextCursor }
    },
    cancel: (id, options) => cancelRun(internals, id, options?.reason),
    cancelByJobKey: (task, jobKey, options) => cancelByJobKey(internals, taskNameOf(task), jobKey, options?.reason),
    replay: (id, options) => replayRun(internals, id, options?.reason),
    async wait(id, options) {
      await internals.ready()
      return expectCompleted(await waitForFinalRun(internals, id, options?.timeout))
    },
    async attempts(id) {
      await internals.ready()
      return internals.driver.attemptList({ runId: id })
    },
    async steps(id) {
      await internals.ready()
      return internals.driver.stepList({ runId: id })
    },
    async logs(id, options = {}) {
      const limit = checkWholeNumber(options.limit ?? 1000, 'limit', 1, 10_000)
      await internals.ready()
      return internals.driver.logList({ runId: id, limit })
    },
    counts: () => countRuns(internals),
    activity: (options) => runActivity(internals, options),
    cancelMany: (filter, options) => cancelMany(internals, filter, options),
    replayMany: (filter, options) => replayMany(internals, filter, options),
    watch(listener, options = {}) {
      const intervalMs = Math.max(50, parseDuration(options.interval ?? '500ms'))
      let feed = feeds.get(intervalMs)
      if (!feed) {
        feed = new RunChangeFeed(internals, intervalMs, (error) => {
          for (const onError of errorListeners) onError(error)
        })
        feeds.set(intervalMs, feed)
      }
      const onError = options.onError ?? (() => {})
      errorListeners.add(onError)
      const stop = feed.subscribe(listener)
      return () => {
        errorListeners.delete(onError)
        stop()
      }
    },
  }
}

/** The most runs one page of `runs.list` holds. */
export const MOST_LISTED = 1000

/** Checks list options and turns them into the driver's parameters. */
export function listParams(options: RunListOptions) {
  const limit = checkWholeNumber(options.limit ?? 50, 'limit', 1, MOST_LISTED)
  const status = options.status === undefined ? undefined : Array.isArray(options.status) ? options.status : [options.status]
  for (const value of status ?? []) {
    if (!RUN_STATUSES.includes(value)) throw new InvalidOptionError(`Unknown status "${String(value)}"; one of ${RUN_STATUSES.join(', ')}`)
  }
  const createdFrom = dateOption(options.createdFrom, 'createdFrom')
  const createdBefore = dateOption(options.createdBefore, 'createdBefore')
  return { task: options.task, queue: options.queue, schedule: options.schedule, status, limit, cursor: options.cursor, createdFrom, createdBefore }
}

function dateOption(value: Date | string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null
  if (!date || Number.isNaN(date.getTime())) throw new InvalidOptionError(`${name} must be a Date or an ISO 8601 string`)
  return date
}

export async function cancelRun(internals: ErrandInternals, id: string, reason?: string): Promise<Run> {
  await internals.ready()
  const result = await internals.driver.runCancel({ id, reason: reason ?? null, now: internals.clock.now() })
  if (!result) throw new RunNotFoundError(id)
  if (!result.cancelled) throw new InvalidTransitionError(`Cannot cancel run ${id}: it is already ${result.run.status}`)
  const run = toPublicRun(result.run)
  internals.signals.emit('cancelled', id)
  internals.signals.emit('finished', id)
  internals.events.emit('run.cancelled', { run, reason: run.cancelReason })
  return run
}

async function cancelByJobKey(internals: ErrandInternals, task: string, jobKey: string, reason?: string): Promise<JobKeyCancellation> {
  const key = checkName(jobKey, 'jobKey')
  if (key === null) throw new InvalidOptionError('cancelByJobKey needs a job key')
  internals.getTask(task)
  await internals.ready()
  const result = await internals.driver.runCancelByJobKey({ task, jobKey: key, reason: reason ?? null, now: internals.clock.now() })
  if (!result) return { cancelled: false, run: null }
  const run = toPublicRun(result.run)
  if (result.cancelled) {
    internals.signals.emit('finished', run.id)
    internals.events.emit('run.cancelled', { run, reason: run.cancelReason })
  }
  return { cancelled: result.cancelled, run }
}

async function replayRun(internals: ErrandInternals, id: string, reason?: string): Promise<RunHandle> {
  await internals.ready()
  const original = await internals.driver.runGet({ id })
  if (!original) throw new RunNotFoundError(id)
  if (!isFinalStatus(original.status)) {
    throw new InvalidTransitionError(`Cannot replay run ${id} while it is ${original.status}; cancel it first or wait for it`)
  }
  const now = internals.clock.now()
  const results = await internals.driver.runInsertMany({ now, runs: [replayOf(original, reason, now)] })
  announce(internals, results, now)
  return createRunHandle(internals, results[0] as (typeof results)[number])
}

/** A new run of the same task, payload and settings as a finished one, with `replayOf` set. */
export function replayOf(original: RunRecord, reason: string | undefined, now: Date): NewRun {
  return {
    id: newRunId(now),
    task: original.task,
    status: 'queued',
    payloadJson: JSON.stringify(original.payload),
    maxAttempts: original.retryPolicy.attempts,
    priority: original.priority,
    queue: original.queue,
    concurrencyKey: original.concurrencyKey,
    concurrencyLimit: original.concurrencyLimit,
    idempotencyKey: null,
    jobKey: null,
    jobKeyMode: null,
    flags: original.flags,
    metadataJson: JSON.stringify(original.metadata),
    retryPolicy: original.retryPolicy,
    timeoutMs: original.timeoutMs,
    runAt: now,
    replayOf: original.id,
    replayReason: reason ?? null,
  }
}
