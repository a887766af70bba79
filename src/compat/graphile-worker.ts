/**
 * graphile-worker's `addJob` / `removeJob` and task functions as a facade over an errand
 * instance. `queueName`, `priority`, `jobKey`/`jobKeyMode`, `flags` and batch jobs are
 * errand's own enqueue options; each task of the task list is an errand task.
 * @packageDocumentation
 */
import type { Errand } from '../index.js'
import { InvalidOptionError } from '../core/errors.js'
import type { Run } from '../core/run.js'
import type { EnqueueOptions } from '../core/run-options.js'
import type { JobKeyMode } from '../core/queue-options.js'
import type { RetryOptions } from '../core/retry.js'
import type { Worker } from '../runtime/worker.js'
import type { ForbiddenFlags } from '../runtime/worker-options.js'

/** A job, in graphile-worker's shape (snake_case, as its `jobs` table). */
export interface Job {
  id: string
  queue_name: string | null
  task_identifier: string
  payload: unknown
  priority: number
  run_at: Date
  /** Attempts started so far. */
  attempts: number
  max_attempts: number
  last_error: string | null
  created_at: Date
  updated_at: Date
  key: string | null
  locked_at: Date | null
  locked_by: string | null
  flags: { [flag: string]: true } | null
  /** Whether a worker may take it now (not running, not finished, due). */
  is_available: boolean
}

/** The options of `addJob`, as graphile-worker's `TaskSpec`. */
export interface TaskSpec {
  queueName?: string
  runAt?: Date
  priority?: number
  /** Default 25. */
  maxAttempts?: number
  jobKey?: string
  jobKeyMode?: 'replace' | 'preserve_run_at' | 'unsafe_dedupe'
  flags?: string[]
}

export type AddJobFunction = (identifier: string, payload?: unknown, spec?: TaskSpec) => Promise<Job>

/** What a task function gets besides its payload. */
export interface JobHelpers {
  job: Job
  addJob: AddJobFunction
  logger: { debug(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void }
  abortSignal: AbortSignal
}

/** A task function. For a batch job it may return one promise per payload item. */
export type Task = (payload: unknown, helpers: JobHelpers) => unknown

/** Options of `run()`: the worker. */
export interface RunnerOptions {
  /** Jobs at once. Default 1, as graphile-worker. */
  concurrency?: number
  /** ms between looks for jobs. Default 2000, as graphile-worker. */
  pollInterval?: number
  forbiddenFlags?: ForbiddenFlags
}

export interface Runner {
  addJob: AddJobFunction
  stop(): Promise<void>
}

export interface GraphileWorker {
  addJob: AddJobFunction
  /** Removes the job with this key if it has not started; resolves with it, or null. */
  removeJob(jobKey: string): Promise<Job | null>
  /** Starts a worker for the task list. */
  run(options?: RunnerOptions): Promise<Runner>
}

/**
 * graphile-worker retries after exp(min(attempts, 10)) seconds: the same waits as a list of
 * delays (the last repeats), without errand's jitter or its 1 h cap.
 */
export const GRAPHILE_RETRY: RetryOptions = {
  attempts: 25,
  backoff: { delays: Array.from({ length: 10 }, (_, i) => Math.round(Math.exp(i + 1) * 1000)) },
  maxDelay: '7h',
  jitter: false,
}

const SPEC_FIELDS = new Set(['queueName', 'runAt', 'priority', 'maxAttempts', 'jobKey', 'jobKeyMode', 'flags'])

/** Creates graphile-worker's API over `errand`; every task of `taskList` is registered as an errand task. */
export function createGraphileWorker(options: { errand: Errand; taskList: Record<string, Task> }): GraphileWorker {
  const { errand, taskList } = options
  const addJob: AddJobFunction = async (identifier, payload = {}, spec = {}) => {
    const handle = await errand.enqueue(identifier, payload, toEnqueueOptions(spec))
    return toJob(handle.run)
  }
  for (const [name, task] of Object.entries(taskList)) {
    errand.task(name, { retry: GRAPHILE_RETRY }, (payload, ctx) =>
      task(payload, { job: toJob(ctx.run), addJob, logger: ctx.log, abortSignal: ctx.signal }),
    )
  }
  return {
    addJob,
    async removeJob(jobKey) {
      // errand scopes job keys to a task; graphile-worker's are global, so look in each task.
      for (const name of Object.keys(taskList)) {
        const { cancelled, run } = await errand.runs.cancelByJobKey(name, jobKey, { reason: 'removeJob' })
        if (cancelled && run) return toJob(run)
      }
      return null
    },
    async run(runnerOptions = {}) {
      const worker: Worker = errand.worker({
        tasks: Object.keys(taskList),
        concurrency: runnerOptions.concurrency ?? 1,
        pollInterval: runnerOptions.pollInterval ?? 2000,
        ...(runnerOptions.forbiddenFlags ? { forbiddenFlags: runnerOptions.forbiddenFlags } : {}),
      })
      await worker.start()
      return { addJob, stop: () => worker.stop() }
    },
  }
}

function toEnqueueOptions(spec: TaskSpec): EnqueueOptions {
  for (const key of Object.keys(spec)) if (!SPEC_FIELDS.has(key)) throw new InvalidOptionError(`addJob: unknown option "${key}"`)
  const out: EnqueueOptions = { maxAttempts: spec.maxAttempts ?? 25 }
  if (spec.queueName != null) out.queue = spec.queueName
  if (spec.runAt != null) out.runAt = spec.runAt
  if (spec.priority != null) out.priority = spec.priority
  if (spec.jobKey != null) out.jobKey = spec.jobKey
  if (spec.jobKeyMode != null) out.jobKeyMode = spec.jobKeyMode as JobKeyMode
  if (spec.flags != null) out.flags = spec.flags
  return out
}

/** Maps a native run to graphile-worker's `Job`. */
export function toJob(run: Run): Job {
  const waiting = run.status === 'scheduled' || run.status === 'queued'
  return {
    id: run.id,
    queue_name: run.queue,
    task_identifier: run.task,
    payload: run.payload,
    priority: run.priority,
    run_at: run.runAt,
    attempts: run.attempt,
    max_attempts: run.maxAttempts,
    last_error: run.error?.message ?? null,
    created_at: run.createdAt,
    updated_at: run.updatedAt,
    key: run.jobKey,
    locked_at: run.status === 'running' ? run.updatedAt : null,
    locked_by: run.lockedBy,
    flags: run.flags.length ? Object.fromEntries(run.flags.map((flag) => [flag, true as const])) : null,
    is_available: waiting,
  }
}
