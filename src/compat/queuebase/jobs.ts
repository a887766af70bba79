/**
 * Queuebase job definitions and the mapping of their options onto errand's enqueue options,
 * shared by the in-process client and the HTTP client.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec'
import { InvalidOptionError } from '../../core/errors.js'
import type { EnqueueOptions } from '../../core/run-options.js'
import type { RetryOptions } from '../../core/retry.js'
import type { Run } from '../../core/run.js'
import type { RunStatus } from '../../core/run-state.js'

/** Options of `.enqueue()`, and of a job's `defaults`. */
export interface EnqueueJobOptions {
  /** Delay before running: '5s', '5m', '1h', '2d', or milliseconds. */
  delay?: string | number
  /** Retry attempts on failure (attempts = retries + 1). */
  retries?: number
  backoff?: 'linear' | 'exponential'
  /** Base delay between retries in ms. Default 1000. */
  backoffDelay?: number
  /** Max concurrent executions of this job type per worker. */
  concurrency?: number
}

/** What a handler gets. */
export interface JobHandlerArgs<TInput> {
  input: TInput
  jobId: string
  /** 1 on the first attempt. */
  attempt: number
  maxAttempts: number
  signal: AbortSignal
}

/** A Queuebase job: its Zod (any Standard Schema) input, handler and defaults. */
export interface QueuebaseJob<TIn = any, TOut = any, TResult = unknown> {
  readonly kind: 'queuebase.job'
  readonly input: StandardSchemaV1<TIn, TOut>
  readonly handler: (args: JobHandlerArgs<TOut>) => TResult | Promise<TResult>
  readonly defaults: EnqueueJobOptions
}

/** Defines a job. Register jobs by putting them in a router: `createJobRouter({ sendEmail: job(...) })`. */
export function job<S extends StandardSchemaV1, TResult = unknown>(config: {
  input: S
  handler: (args: JobHandlerArgs<StandardSchemaV1.InferOutput<S>>) => TResult | Promise<TResult>
  defaults?: EnqueueJobOptions
}): QueuebaseJob<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>, Awaited<TResult>> {
  return Object.freeze({ kind: 'queuebase.job' as const, input: config.input, handler: config.handler as never, defaults: config.defaults ?? {} })
}

export type JobRouter = Record<string, QueuebaseJob>

/** Groups jobs under the names clients enqueue them by. */
export function createJobRouter<R extends JobRouter>(jobs: R): R {
  return jobs
}

/** What `getStatus()` resolves to. */
export interface JobStatusResponse {
  publicId: string
  name: string
  status: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled'
  attempt: number
  maxAttempts: number
  createdAt: string
  startedAt: string | null
  completedAt: string | null
  result: unknown
  error: string | null
}

/** What `.enqueue()` resolves to. */
export interface EnqueueResult {
  jobId: string
  getStatus: () => Promise<JobStatusResponse>
}

/** `jobClient.<name>.enqueue(input, options)`, typed by the router. */
export type JobClient<R extends JobRouter> = {
  [K in keyof R]: { enqueue(input: R[K] extends QueuebaseJob<infer I> ? I : never, options?: EnqueueJobOptions): Promise<EnqueueResult> }
}

const FIELDS = new Set(['delay', 'retries', 'backoff', 'backoffDelay', 'concurrency'])

/** The errand retry policy of `retries`, `backoff` and `backoffDelay`: no jitter, so waits are the documented ones. */
export function retryOf(options: EnqueueJobOptions): RetryOptions {
  const retry: RetryOptions = { jitter: false, initialDelay: options.backoffDelay ?? 1000 }
  if (options.retries !== undefined) {
    if (!Number.isInteger(options.retries) || options.retries < 0) throw new InvalidOptionError(`retries must be a whole number of at least 0, got ${String(options.retries)}`)
    retry.attempts = options.retries + 1
  }
  if (options.backoff !== undefined) retry.backoff = options.backoff
  return retry
}

/**
 * Maps enqueue options (over the job's defaults) to errand's. `concurrency` belongs to the
 * job type in errand (a task setting), so at enqueue only the job's own value is accepted.
 */
export function toEnqueueOptions(name: string, definition: QueuebaseJob, options: EnqueueJobOptions = {}): EnqueueOptions {
  for (const key of Object.keys(options)) if (!FIELDS.has(key)) throw new InvalidOptionError(`enqueue: unknown option "${key}"`)
  if (options.concurrency !== undefined && options.concurrency !== definition.defaults.concurrency) {
    throw new InvalidOptionError(`concurrency is per job type: set it in the defaults of job "${name}" (it is ${String(definition.defaults.concurrency ?? 'unset')})`)
  }
  const merged = { ...definition.defaults, ...options }
  const out: EnqueueOptions = { retry: retryOf(merged) }
  if (merged.delay !== undefined) out.delay = merged.delay as EnqueueOptions['delay']
  return out
}

const STATUS: Record<RunStatus, JobStatusResponse['status']> = {
  scheduled: 'pending',
  queued: 'pending',
  running: 'running',
  completed: 'completed',
  dead_lettered: 'failed',
  cancelled: 'cancelled',
}

type RunLike = Pick<Run, 'id' | 'task' | 'status' | 'attempt' | 'maxAttempts' | 'output' | 'error'> & {
  createdAt: Date | string
  startedAt: Date | string | null
  completedAt: Date | string | null
}

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString())

/** Maps a run (native, or as the HTTP API sends it) to Queuebase's status response. */
export function toStatus(run: RunLike): JobStatusResponse {
  return {
    publicId: run.id,
    name: run.task,
    status: STATUS[run.status],
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    createdAt: iso(run.createdAt) as string,
    startedAt: iso(run.startedAt),
    completedAt: iso(run.completedAt),
    result: run.status === 'completed' ? run.output : null,
    error: run.status === 'dead_lettered' || run.status === 'cancelled' ? (run.error?.message ?? null) : null,
  }
}
