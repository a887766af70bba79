/**
 * The Kumofire API (`jobs.create`, `jobs.dispatch`, `runtime.dispatchScheduled`) as a facade
 * over an errand instance. Each handler of the runtime's handler map is an errand task;
 * runs, their states, dedupe and dispatch are errand's own.
 * @packageDocumentation
 */
import type { Errand } from '../index.js'
import { InvalidOptionError, UnknownTaskError } from '../core/errors.js'
import type { EnqueueOptions } from '../core/run-options.js'
import type { Worker } from '../runtime/worker.js'
import type { WorkerOptions } from '../runtime/worker-options.js'

/** What a Kumofire handler gets besides its payload. */
export interface KumofireJobContext {
  kumofireJobRunId: string
  /** 1 on the first attempt. */
  attempt: number
  maxAttempts: number
  /** Aborts on cancellation, timeout and worker shutdown. */
  signal: AbortSignal
}

/** A job handler of the runtime's handler map. */
export type KumofireHandler<TPayload = any> = (payload: TPayload, ctx: KumofireJobContext) => unknown

/** What `jobs.create` takes. */
export interface CreateJobInput<TName extends string = string> {
  /** The registered job name: it must match a handler in the runtime handler map. */
  name: TName
  /** The JSON payload passed to the job handler. */
  payload: unknown
  /** When to run; omitted or past: due now. A future run stays `scheduled` until dispatch. */
  runAt?: Date
  /** Overrides the maximum number of attempts for this run. */
  maxAttempts?: number
  /** Idempotency key: if a run with this key exists, it is returned instead of a new one. */
  dedupeKey?: string
}

/** `jobs`: create one-shot runs and dispatch scheduled ones. */
export interface KumofireJobs<TName extends string = string> {
  create(input: CreateJobInput<TName>): Promise<{ kumofireJobRunId: string }>
  /** Moves due `scheduled` runs to `queued`; resolves with how many moved. */
  dispatch(): Promise<number>
}

/** The runtime: its handler map, dispatch, and the worker that runs the handlers. */
export interface KumofireRuntime {
  readonly handlers: Readonly<Record<string, KumofireHandler>>
  /** Moves due `scheduled` runs to `queued`; resolves with how many moved. */
  dispatchScheduled(): Promise<number>
  /** Starts an errand worker running the handlers. */
  start(options?: WorkerOptions): Promise<void>
  stop(): Promise<void>
}

const CREATE_FIELDS = new Set(['name', 'payload', 'runAt', 'maxAttempts', 'dedupeKey'])

/**
 * Creates Kumofire's `jobs` and `runtime` over `errand`: each entry of `handlers` is
 * registered as an errand task of that name.
 */
export function createKumofire<H extends Record<string, KumofireHandler>>(options: { errand: Errand; handlers: H }): {
  jobs: KumofireJobs<Extract<keyof H, string>>
  runtime: KumofireRuntime
} {
  const { errand, handlers } = options
  for (const [name, handler] of Object.entries(handlers)) {
    errand.task(name, {}, (payload, ctx) =>
      handler(payload, { kumofireJobRunId: ctx.runId, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, signal: ctx.signal }),
    )
  }
  let worker: Worker | null = null
  const jobs: KumofireJobs<Extract<keyof H, string>> = {
    async create(input) {
      for (const key of Object.keys(input ?? {})) {
        if (!CREATE_FIELDS.has(key)) throw new InvalidOptionError(`jobs.create: unknown field "${key}"`)
      }
      // The handler map is the source of truth: a task registered natively but not here is not a Kumofire job.
      if (!Object.hasOwn(handlers, input.name)) throw new UnknownTaskError(String(input.name))
      const spec: EnqueueOptions = {}
      if (input.runAt !== undefined) spec.runAt = input.runAt
      if (input.maxAttempts !== undefined) spec.maxAttempts = input.maxAttempts
      if (input.dedupeKey !== undefined) spec.idempotencyKey = input.dedupeKey
      const handle = await errand.enqueue(input.name, input.payload, spec)
      return { kumofireJobRunId: handle.id }
    },
    dispatch: () => errand.dispatch(),
  }
  const runtime: KumofireRuntime = {
    handlers,
    dispatchScheduled: () => errand.dispatch(),
    async start(workerOptions) {
      if (worker) return
      worker = errand.worker({ ...workerOptions, tasks: Object.keys(handlers) })
      await worker.start()
    },
    async stop() {
      await worker?.stop()
      worker = null
    },
  }
  return { jobs, runtime }
}
