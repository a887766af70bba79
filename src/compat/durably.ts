/**
 * The durably API (`defineJob`, `register`, `trigger`, `triggerAndWait`, `batchTrigger`,
 * `getRun`, `getRuns`, `step.run`) as a facade over an errand instance. Every call maps to
 * the native API: runs, steps, retries and waiting are errand's own.
 * @packageDocumentation
 */
import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Errand } from '../index.js'
import { NonRetryableError } from '../core/errors.js'
import { validateWithSchema } from '../runtime/schema.js'
import { defineTask, type AnyTaskDefinition, type TaskHandle } from '../runtime/task.js'
import type { Run as ErrandRun } from '../core/run.js'
import type { RunStatus } from '../core/run-state.js'
import type { EnqueueOptions } from '../core/run-options.js'
import type { Worker } from '../runtime/worker.js'
import type { WorkerOptions } from '../runtime/worker-options.js'

/** Statuses as durably names them. */
export type DurablyRunStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled'

/** A run as durably returns it. Times are ISO 8601 strings, as durably stores them. */
export interface Run<TOutput = unknown> {
  id: string
  jobName: string
  status: DurablyRunStatus
  payload: unknown
  output: TOutput | null
  /** The last failed attempt's message; null if none failed. */
  error: string | null
  idempotencyKey: string | null
  concurrencyKey: string | null
  progress: unknown
  createdAt: string
  updatedAt: string
}

/** The `step` a job's run function gets. */
export interface StepContext {
  /** A checkpointed step: its result is stored and returned, without calling `fn`, when the run resumes. */
  run<T>(name: string, fn: () => T | Promise<T>): Promise<T>
  /** Messages kept with the run. */
  log: { info(message: string, data?: unknown): void; warn(message: string, data?: unknown): void; error(message: string, data?: unknown): void }
  /** Stores `{ current, total, message }` as the run's progress. */
  progress(current: number, total?: number, message?: string): Promise<void>
}

/** Options of `trigger`, `triggerAndWait` and `batchTrigger` items. */
export interface TriggerOptions {
  idempotencyKey?: string
  concurrencyKey?: string
  /** Timeout in ms for `triggerAndWait()`. */
  timeout?: number
}

/** What `defineJob` takes. */
export interface DefineJobConfig<TName extends string, TInput, TOutput> {
  name: TName
  input: StandardSchemaV1<TInput, any>
  output?: StandardSchemaV1<any, TOutput>
  run: (step: StepContext, payload: TInput) => Promise<TOutput>
}

/** A job definition: register it with `durably.register()`. */
export interface JobDefinition<TName extends string = string, TInput = any, TOutput = any, TPayload = any> {
  readonly name: TName
  /** The errand task it maps to. */
  readonly task: AnyTaskDefinition
  /** Type carriers only; never set. */
  readonly __types?: { input: TInput; output: TOutput; payload: TPayload }
}

/** A registered job. */
export interface JobHandle<TInput, TOutput> {
  readonly name: string
  trigger(input: TInput, options?: TriggerOptions): Promise<Run<TOutput>>
  /** Throws if the run fails (errand's `RunFailedError`) or `timeout` ms pass (`WaitTimeoutError`). */
  triggerAndWait(input: TInput, options?: TriggerOptions): Promise<{ id: string; output: TOutput }>
  /** Validates every input first; creates nothing if one is invalid. */
  batchTrigger(inputs: Array<TInput | { input: TInput; options?: TriggerOptions }>): Promise<Array<Run<TOutput>>>
  /** The run, or null if it does not exist or belongs to another job. */
  getRun(id: string): Promise<Run<TOutput> | null>
  getRuns(filter?: { status?: DurablyRunStatus; limit?: number; offset?: number }): Promise<Array<Run<TOutput>>>
}

/**
 * Defines a job. The schemas are any Standard Schema (zod included); `input` is checked at
 * trigger, `output` against what `run` returns.
 */
export function defineJob<const TName extends string, TIn extends StandardSchemaV1, TOut extends StandardSchemaV1 | undefined = undefined, TResult = unknown>(config: {
  name: TName
  input: TIn
  output?: TOut
  run: (step: StepContext, payload: StandardSchemaV1.InferOutput<TIn>) => Promise<TOut extends StandardSchemaV1 ? StandardSchemaV1.InferInput<TOut> : TResult>
}): JobDefinition<TName, StandardSchemaV1.InferInput<TIn>, TOut extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<TOut> : TResult, StandardSchemaV1.InferOutput<TIn>> {
  const task = defineTask({
    name: config.name,
    input: config.input as StandardSchemaV1,
    ...(config.output ? { output: config.output as StandardSchemaV1 } : {}),
    // durably fails a run on its first error but resumes one whose worker crashed. Errors are
    // made non-retryable below, so these attempts are spent only by crashes (lease expiry).
    retry: { attempts: 10 },
    run: async (payload, ctx) => {
      try {
        const result = await config.run(stepContext(ctx), payload as never)
        // Checked here too, so an invalid output fails the run instead of being retried.
        if (config.output) await validateWithSchema(config.output as StandardSchemaV1, result, `The output of job "${config.name}"`)
        return result
      } catch (error) {
        if (ctx.signal.aborted) throw error
        throw new NonRetryableError(error instanceof Error ? error.message : String(error), { cause: error })
      }
    },
  })
  return Object.freeze({ name: config.name, task: task as AnyTaskDefinition })
}

function stepContext(ctx: import('../runtime/task.js').TaskContext): StepContext {
  return {
    run: (name, fn) => ctx.step.run(name, fn),
    log: ctx.log,
    progress: (current, total, message) => ctx.progress({ current, total: total ?? null, message: message ?? null }),
  }
}

type HandleOfJob<D> = D extends JobDefinition<string, infer I, infer O> ? JobHandle<I, O> : never

/** A durably instance over an errand instance. */
export interface Durably {
  /** The errand instance underneath: its runs API sees every run made here. */
  readonly errand: Errand
  /** Registers job definitions; the same definition again returns the same handle. */
  register<T extends Record<string, JobDefinition>>(jobs: T): { [K in keyof T]: HandleOfJob<T[K]> }
  /** Starts an errand worker for the registered jobs. */
  start(options?: WorkerOptions): Promise<void>
  /** Stops the worker started by `start()`. */
  stop(): Promise<void>
}

/** Creates a durably facade over `errand`. Jobs run on errand's workers (`durably.start()` starts one). */
export function createDurably(options: { errand: Errand }): Durably {
  const { errand } = options
  const handles = new Map<JobDefinition, JobHandle<unknown, unknown>>()
  let worker: Worker | null = null
  return {
    errand,
    register(jobs) {
      const out: Record<string, JobHandle<unknown, unknown>> = {}
      for (const [key, def] of Object.entries(jobs)) {
        let handle = handles.get(def)
        if (!handle) {
          const { task } = errand.register({ task: def.task })
          handle = createHandle(errand, task)
          handles.set(def, handle)
        }
        out[key] = handle
      }
      return out as never
    },
    async start(workerOptions) {
      if (worker) return
      worker = errand.worker(workerOptions)
      await worker.start()
    },
    async stop() {
      await worker?.stop()
      worker = null
    },
  }
}

function enqueueOptions(options: TriggerOptions | undefined): Pick<EnqueueOptions, 'idempotencyKey' | 'concurrencyKey'> {
  const out: Pick<EnqueueOptions, 'idempotencyKey' | 'concurrencyKey'> = {}
  if (options?.idempotencyKey !== undefined) out.idempotencyKey = options.idempotencyKey
  if (options?.concurrencyKey !== undefined) out.concurrencyKey = options.concurrencyKey
  return out
}

/** durably's item form: `{ input, options? }` and nothing else. */
function isWrapped(item: unknown): item is { input: unknown; options?: TriggerOptions } {
  if (item === null || typeof item !== 'object' || Array.isArray(item) || !('input' in item)) return false
  return Object.keys(item).every((key) => key === 'input' || key === 'options')
}

const STATUS: Record<RunStatus, DurablyRunStatus> = {
  scheduled: 'pending',
  queued: 'pending',
  running: 'running',
  completed: 'completed',
  dead_lettered: 'failed',
  cancelled: 'cancelled',
}
const NATIVE: Record<DurablyRunStatus, RunStatus[]> = {
  pending: ['scheduled', 'queued'],
  running: ['running'],
  completed: ['completed'],
  failed: ['dead_lettered'],
  cancelled: ['cancelled'],
}

/** Maps a native run to durably's shape. */
export function toDurablyRun<TOutput>(run: ErrandRun): Run<TOutput> {
  return {
    id: run.id,
    jobName: run.task,
    status: STATUS[run.status],
    payload: run.payload,
    output: run.output as TOutput | null,
    error: run.status === 'completed' || !run.error ? null : run.error.message,
    idempotencyKey: run.idempotencyKey,
    concurrencyKey: run.concurrencyKey,
    progress: run.progress ?? null,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
  }
}

function createHandle(errand: Errand, task: TaskHandle<unknown, unknown>): JobHandle<unknown, unknown> {
  const name = task.name
  return {
    name,
    async trigger(input, options) {
      return toDurablyRun((await task.enqueue(input, enqueueOptions(options))).run)
    },
    async triggerAndWait(input, options) {
      const wait = options?.timeout === undefined ? {} : { timeout: options.timeout }
      const { id, output } = await task.enqueueAndWait(input, { ...enqueueOptions(options), ...wait })
      return { id, output }
    },
    async batchTrigger(inputs) {
      const items = inputs.map((item) => (isWrapped(item) ? { payload: item.input, options: enqueueOptions(item.options) } : { payload: item, options: {} }))
      return (await task.enqueueMany(items)).map((handle) => toDurablyRun(handle.run))
    },
    async getRun(id) {
      const run = await errand.runs.get(id)
      return run && run.task === name ? toDurablyRun(run) : null
    },
    async getRuns(filter = {}) {
      // durably pages by offset; errand by cursor: walk the cursor pages to the offset.
      const offset = filter.offset ?? 0
      const limit = filter.limit ?? Number.POSITIVE_INFINITY
      const status = filter.status ? NATIVE[filter.status] : undefined
      const out: ErrandRun[] = []
      let cursor: string | undefined
      while (out.length < offset + limit) {
        const page = await errand.runs.list({ task: name, ...(status ? { status } : {}), limit: 1000, ...(cursor ? { cursor } : {}) })
        out.push(...page.runs)
        if (!page.nextCursor) break
        cursor = page.nextCursor
      }
      return out.slice(offset, offset + limit).map((run) => toDurablyRun(run))
    },
  }
}
