import { InvalidOptionError } from '../core/errors.js'
import { toStoredJson } from '../core/json.js'
import { resolveRunSpec, type EnqueueOptions } from '../core/run-options.js'
import type { Run } from '../core/run.js'
import type { NewRun, RunInsertResult } from '../storage/driver.js'
import { newRunId } from './ids.js'
import { cancelRun } from './runs.js'
import type { ErrandInternals } from './internals.js'
import { toPublicRun } from './public-run.js'
import type { RunHandle } from './run-handle.js'
import { validateWithSchema } from './schema.js'
import type { AnyTaskDefinition, EnqueueManyItem } from './task.js'
import { expectCompleted, waitForFinalRun } from './wait.js'

/** One enqueue request, before validation. */
export interface EnqueueRequest {
  task: string
  payload: unknown
  options?: EnqueueOptions
}

/**
 * Validates every request (payload schema, options, JSON), then inserts them all in one
 * transaction. Nothing is written if any request is invalid.
 */
export async function enqueueRuns(internals: ErrandInternals, requests: EnqueueRequest[], tx?: unknown): Promise<RunHandle[]> {
  // Ready first: `delay` counts from when the run can be stored, not from before the
  // migrations that the first use of a store applies (they can take longer than the delay).
  await internals.ready()
  const now = internals.clock.now()
  const runs: NewRun[] = []
  for (const request of requests) runs.push(await prepareRun(internals, request, now))
  const results = await internals.driver.runInsertMany({ runs, now, tx })
  // Inside the caller's transaction the runs are not visible until it commits: waking a
  // local worker now would only cost it an empty claim (the store's own wake-up, such as
  // PostgreSQL's NOTIFY at commit, or the poll, starts them).
  announce(internals, results, now, { wake: tx === undefined || tx === null })
  return results.map((result) => createRunHandle(internals, result))
}

async function prepareRun(internals: ErrandInternals, request: EnqueueRequest, now: Date): Promise<NewRun> {
  const task = internals.getTask(request.task)
  const payload = task.options.input
    ? await validateWithSchema(task.options.input, request.payload, `Invalid payload for task "${task.name}"`)
    : request.payload
  const spec = resolveRunSpec(task.options, request.options, now)
  return {
    id: newRunId(now),
    task: task.name,
    status: spec.due ? 'queued' : 'scheduled',
    payloadJson: toStoredJson(payload, 'payload'),
    maxAttempts: spec.maxAttempts,
    priority: spec.priority,
    queue: spec.queue,
    concurrencyKey: spec.concurrencyKey,
    concurrencyLimit: spec.concurrencyLimit,
    idempotencyKey: spec.idempotencyKey,
    jobKey: spec.jobKey,
    jobKeyMode: spec.jobKeyMode,
    flags: spec.flags,
    metadataJson: toStoredJson(spec.metadata, 'metadata'),
    retryPolicy: spec.retryPolicy,
    timeoutMs: spec.timeoutMs,
    runAt: spec.runAt,
    replayOf: null,
    replayReason: null,
  }
}

/** Tells local workers and listeners about new runs, and about runs a job key replaced (their time may have moved). */
export function announce(internals: ErrandInternals, results: RunInsertResult[], now: Date, options: { wake?: boolean } = {}): void {
  let earliest: Date | null = null
  const listened = internals.events.listenerCount('run.enqueued') > 0
  for (const result of results) {
    if (!result.created && result.reason !== 'replaced') continue
    if (result.created && listened) internals.events.emit('run.enqueued', { run: toPublicRun(result.run) })
    if (!earliest || result.run.runAt < earliest) earliest = result.run.runAt
  }
  if (earliest && options.wake !== false) internals.signals.emit('wake', earliest < now ? now : earliest)
}

/** Builds the handle enqueue returns. */
export function createRunHandle(internals: ErrandInternals, result: RunInsertResult): RunHandle {
  const run = toPublicRun(result.run)
  return {
    id: run.id,
    task: run.task,
    status: run.status,
    created: result.created,
    reason: result.reason ?? null,
    run,
    get: async () => (await internals.driver.runGet({ id: run.id }).then((r) => (r ? toPublicRun(r) : run))) as Run,
    wait: async (options) => expectCompleted(await waitForFinalRun(internals, run.id, options?.timeout)),
    cancel: async (options) => cancelRun(internals, run.id, options?.reason),
  }
}

/** Splits an `enqueueMany` item into payload and options. `{ payload, options? }` is the wrapped form. */
export function unwrapItem<T>(item: EnqueueManyItem<T>): { payload: T; options?: EnqueueOptions } {
  if (typeof item === 'object' && item !== null && !Array.isArray(item) && 'payload' in item) {
    const keys = Object.keys(item)
    if (keys.every((key) => key === 'payload' || key === 'options')) return item as { payload: T; options?: EnqueueOptions }
  }
  return { payload: item as T }
}

/** Checks a task definition handed to an enqueue call. */
export function taskNameOf(task: string | AnyTaskDefinition): string {
  if (typeof task === 'string') return task
  if (task && typeof task === 'object' && typeof task.name === 'string') return task.name
  throw new InvalidOptionError('Expected a task name or definition')
}
