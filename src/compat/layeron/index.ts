/**
 * The Layeron Job API (`job({ name, namespace })`, `jobs.task`, `jobs.enqueue`, `jobs.runs`,
 * `app.use(jobs)`) as a facade over an errand instance. Each task is an errand task named
 * `<namespace>/<name>/<task>`, so two apps' tasks stay apart on one store; retries, states,
 * cancel, replay and dead-lettering are errand's own.
 * @packageDocumentation
 */
import type { MiddlewareHandler } from 'hono'
import type { Errand } from '../../index.js'
import { InvalidOptionError, RunNotFoundError } from '../../core/errors.js'
import type { EnqueueOptions } from '../../core/run-options.js'
import type { RetryOptions } from '../../core/retry.js'
import type { Run as ErrandRun } from '../../core/run.js'
import type { RunStatus } from '../../core/run-state.js'
import type { Worker } from '../../runtime/worker.js'
import type { WorkerOptions } from '../../runtime/worker-options.js'

/** A retry policy as Layeron writes it. */
export interface LayeronRetry {
  attempts?: number
  backoff?: 'exponential' | 'fixed' | { type: 'custom'; delaysSeconds: number[] }
  initialDelaySeconds?: number
  maxDelaySeconds?: number
}

/** What a task handler gets besides its payload. */
export interface LayeronContext {
  runId: string
  taskName: string
  /** 1 on the first attempt. */
  attempt: number
  maxAttempts: number
  signal: AbortSignal
}

/** A run as Layeron returns it. Statuses are errand's, `dead_lettered` included. */
export interface LayeronRun {
  runId: string
  taskName: string
  status: RunStatus
  payload: unknown
  output: unknown
  error: string | null
  attempt: number
  maxAttempts: number
  runAt: Date
  createdAt: Date
  startedAt: Date | null
  completedAt: Date | null
  replayOf: string | null
  replayReason: string | null
}

export interface LayeronEnqueueOptions {
  idempotencyKey?: string
  delaySeconds?: number
  /** An ISO 8601 string or a Date. */
  runAt?: string | Date
}

export interface LayeronRuns {
  get(runId: string): Promise<LayeronRun | null>
  list(options?: { taskName?: string; status?: RunStatus; limit?: number }): Promise<{ runs: LayeronRun[] }>
  cancel(runId: string): Promise<LayeronRun>
  replay(runId: string, options?: { reason?: string }): Promise<LayeronRun>
}

/** A job instance: a Hono middleware (`app.use(jobs)`) with the Job API on it. */
export type LayeronJobs = MiddlewareHandler & {
  readonly name: string
  readonly namespace: string
  task<P = any>(name: string, options: { retry?: LayeronRetry }, handler: (payload: P, ctx: LayeronContext) => unknown): void
  enqueue(taskName: string, payload: unknown, options?: LayeronEnqueueOptions): Promise<LayeronRun>
  runs: LayeronRuns
  /** Starts an errand worker for this instance's tasks (those defined so far). */
  start(options?: WorkerOptions): Promise<void>
  stop(): Promise<void>
}

/** Maps a Layeron retry policy to errand's. Jitter is off: the waits are the ones written. */
export function toRetry(retry: LayeronRetry = {}): RetryOptions {
  const out: RetryOptions = { jitter: false }
  if (retry.attempts !== undefined) out.attempts = retry.attempts
  if (retry.initialDelaySeconds !== undefined) out.initialDelay = retry.initialDelaySeconds * 1000
  if (retry.maxDelaySeconds !== undefined) out.maxDelay = retry.maxDelaySeconds * 1000
  const { backoff } = retry
  if (typeof backoff === 'object' && backoff !== null) {
    if (backoff.type !== 'custom' || !Array.isArray(backoff.delaysSeconds)) throw new InvalidOptionError('retry.backoff: { type: "custom", delaysSeconds: [...] }')
    out.backoff = { delays: backoff.delaysSeconds.map((seconds) => seconds * 1000) }
  } else if (backoff !== undefined) out.backoff = backoff
  return out
}

/** Returns Layeron's `job()` over `errand`. */
export function createLayeron(options: { errand: Errand }): (config: { name: string; namespace: string }) => LayeronJobs {
  return (config) => createJobs(options.errand, config)
}

function createJobs(errand: Errand, config: { name: string; namespace: string }): LayeronJobs {
  const prefix = `${config.namespace}/${config.name}/`
  const tasks = new Set<string>()
  let worker: Worker | null = null
  const toRun = (run: ErrandRun): LayeronRun => ({
    runId: run.id,
    taskName: run.task.slice(prefix.length),
    status: run.status,
    payload: run.payload,
    output: run.output,
    error: run.error?.message ?? null,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    runAt: run.runAt,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    completedAt: run.completedAt,
    replayOf: run.replayOf,
    replayReason: run.replayReason,
  })
  /** A run of this instance, or RunNotFoundError: another namespace's runs are not ours to touch. */
  const own = async (runId: string): Promise<ErrandRun> => {
    const run = await errand.runs.get(runId)
    if (!run || !run.task.startsWith(prefix)) throw new RunNotFoundError(runId)
    return run
  }
  // Mounted with app.use(jobs). A Layeron route handler reads its request with `request.json()`;
  // a Hono handler's argument is the Context, whose json() builds a response. Called with no
  // argument it now reads the request body, so Layeron's route examples run unchanged on Hono.
  const middleware: MiddlewareHandler = async (c, next) => {
    const respond = c.json.bind(c) as (...args: unknown[]) => unknown
    ;(c as unknown as { json: (...args: unknown[]) => unknown }).json = (...args) => (args.length === 0 ? c.req.json() : respond(...args))
    await next()
  }
  const api = {
    name: config.name,
    namespace: config.namespace,
    task(name: string, options: { retry?: LayeronRetry }, handler: (payload: any, ctx: LayeronContext) => unknown) {
      errand.task(prefix + name, { retry: toRetry(options?.retry) }, (payload, ctx) =>
        handler(payload, { runId: ctx.runId, taskName: name, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, signal: ctx.signal }),
      )
      tasks.add(prefix + name)
    },
    async enqueue(taskName: string, payload: unknown, options: LayeronEnqueueOptions = {}) {
      for (const key of Object.keys(options)) {
        if (!['idempotencyKey', 'delaySeconds', 'runAt'].includes(key)) throw new InvalidOptionError(`enqueue: unknown option "${key}"`)
      }
      const spec: EnqueueOptions = {}
      if (options.idempotencyKey !== undefined) spec.idempotencyKey = options.idempotencyKey
      if (options.delaySeconds !== undefined) spec.delay = options.delaySeconds * 1000
      if (options.runAt !== undefined) spec.runAt = options.runAt
      return toRun((await errand.enqueue(prefix + taskName, payload, spec)).run)
    },
    runs: {
      async get(runId: string) {
        const run = await errand.runs.get(runId)
        return run && run.task.startsWith(prefix) ? toRun(run) : null
      },
      async list(filter: { taskName?: string; status?: RunStatus; limit?: number } = {}) {
        const limit = filter.limit ?? 50
        // Without a task name: each of this instance's tasks, merged newest first (ids sort by creation).
        const names = filter.taskName !== undefined ? [prefix + filter.taskName] : [...tasks]
        const pages = await Promise.all(names.map((task) => errand.runs.list({ task, limit, ...(filter.status ? { status: filter.status } : {}) })))
        const runs = pages.flatMap((page) => page.runs).sort((a, b) => (a.id < b.id ? 1 : -1))
        return { runs: runs.slice(0, limit).map(toRun) }
      },
      async cancel(runId: string) {
        await own(runId)
        return toRun(await errand.runs.cancel(runId))
      },
      async replay(runId: string, options: { reason?: string } = {}) {
        await own(runId)
        return toRun((await errand.runs.replay(runId, options)).run)
      },
    },
    async start(workerOptions?: WorkerOptions) {
      if (worker) return
      worker = errand.worker({ ...workerOptions, tasks: [...tasks] })
      await worker.start()
    },
    async stop() {
      await worker?.stop()
      worker = null
    },
  }
  // A function's own `name` is read-only, so it is redefined rather than assigned.
  const { name, ...rest } = api
  Object.defineProperty(middleware, 'name', { value: name })
  return Object.assign(middleware, rest) as unknown as LayeronJobs
}
