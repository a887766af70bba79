import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Duration } from '../core/durations.js'
import { InvalidOptionError } from '../core/errors.js'
import type { EnqueueOptions, TaskRunDefaults } from '../core/run-options.js'
import { resolveRunSpec } from '../core/run-options.js'
import type { Run } from '../core/run.js'
import type { RunHandle } from './run-handle.js'
import { checkScheduleOptions, type TaskSchedule } from './schedule-spec.js'
import type { StepApi } from './steps.js'

type MaybePromise<T> = T | Promise<T>
type InferIn<S, Fallback> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : Fallback
type InferOut<S, Fallback> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : Fallback

/** What a handler gets besides its payload. */
export interface TaskContext<TPayload = unknown> {
  runId: string
  task: string
  /** 1 on the first attempt. */
  attempt: number
  maxAttempts: number
  /** Aborts on timeout, cancellation, lost lease and worker shutdown; `signal.reason` says which. */
  signal: AbortSignal
  /** The run as it was claimed for this attempt. */
  run: Readonly<Run<TPayload>>
  /** Durable steps: `step.run(name, fn)` and `step.sleep(name, duration)`. */
  step: StepApi
  /** Messages kept with the run (`ctx.log('...')`, `ctx.log.warn('...', data)`), listed by `runs.logs(id)`. */
  log: RunLogger
  /** Stores a progress value (any JSON) with the run, visible through `runs.get` and the `run.progress` event. */
  progress(value: unknown): Promise<void>
}

/** `ctx.log`: call it for an info message, or use a level. `data` is any JSON. */
export type RunLogger = ((message: string, data?: unknown) => void) & {
  debug(message: string, data?: unknown): void
  info(message: string, data?: unknown): void
  warn(message: string, data?: unknown): void
  error(message: string, data?: unknown): void
}

export type TaskHandler<TPayload, TResult> = (payload: TPayload, ctx: TaskContext<TPayload>) => MaybePromise<TResult>

/** Settings of a task (everything but its name and handler). */
export interface TaskOptions<TInputSchema = StandardSchemaV1 | undefined, TOutputSchema = StandardSchemaV1 | undefined>
  extends TaskRunDefaults {
  /** Validates (and may transform) every payload at enqueue. Any Standard Schema. */
  input?: TInputSchema
  /** Validates the handler's return value; an invalid one fails the attempt. */
  output?: TOutputSchema
  /** At most this many runs of this task at once in one worker. Default: the worker's limit. */
  concurrency?: number
  /**
   * Runs of this task on a schedule, declared in code: synced to the store when a worker
   * starts (and on `migrate()` or first use), so redeploying neither duplicates nor resets
   * them. `key` defaults to the task's name. Checked here: a bad cron or time zone throws.
   */
  schedule?: TaskSchedule | TaskSchedule[]
}

/** A task definition, as written by {@link defineTask}. */
export interface TaskConfig<TName extends string, TInputSchema, TOutputSchema, TPayload, TResult>
  extends TaskOptions<TInputSchema, TOutputSchema> {
  name: TName
  run: TaskHandler<TPayload, TOutputSchema extends StandardSchemaV1 ? StandardSchemaV1.InferInput<TOutputSchema> : TResult>
}

/** A task, ready to register. The type parameters carry what `enqueue` accepts and what a run returns. */
export interface TaskDefinition<TName extends string = string, TInput = unknown, TPayload = unknown, TOutput = unknown> {
  readonly kind: 'errand.task'
  readonly name: TName
  readonly options: TaskOptions<StandardSchemaV1 | undefined, StandardSchemaV1 | undefined>
  readonly run: TaskHandler<TPayload, unknown>
  /** Type carriers only; never set. */
  readonly __types?: { input: TInput; payload: TPayload; output: TOutput }
}

/** Any task definition, whatever its types. */
// biome-ignore lint: the handler's payload type varies per task
export type AnyTaskDefinition = TaskDefinition<string, any, any, any>

/**
 * Defines a task: its name, payload schema, retry policy, timeout and handler. Register it
 * with `errand.register({ ... })` to enqueue and run it.
 */
export function defineTask<
  const TName extends string,
  TInputSchema extends StandardSchemaV1 | undefined = undefined,
  TOutputSchema extends StandardSchemaV1 | undefined = undefined,
  TPayload = InferOut<TInputSchema, unknown>,
  TResult = unknown,
>(
  config: TaskConfig<TName, TInputSchema, TOutputSchema, TPayload, TResult>,
): TaskDefinition<TName, InferIn<TInputSchema, TPayload>, TPayload, InferOut<TOutputSchema, Awaited<TResult>>> {
  const { name, run, ...options } = config
  checkTaskName(name)
  checkTaskOptions(options)
  return Object.freeze({ kind: 'errand.task' as const, name, options, run: run as TaskHandler<TPayload, unknown> })
}

function checkTaskName(name: unknown): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new InvalidOptionError('A task name must be a non-empty string of at most 200 characters')
  }
}

/** Checks a task's settings up front, so a mistake fails at definition, not at the first enqueue. */
function checkTaskOptions(options: TaskOptions): void {
  if (options.concurrency !== undefined && (!Number.isInteger(options.concurrency) || options.concurrency < 1)) {
    throw new InvalidOptionError(`concurrency must be a whole number of at least 1, got ${String(options.concurrency)}`)
  }
  resolveRunSpec(options, undefined, new Date(0))
  checkTaskSchedules(options.schedule)
}

function checkTaskSchedules(schedule: TaskOptions['schedule']): void {
  if (schedule === undefined) return
  const list = Array.isArray(schedule) ? schedule : [schedule]
  const keys = new Set<string>()
  for (const item of list) {
    // The key and task are placeholders here: only the schedule's own fields are checked.
    checkScheduleOptions({ ...item, key: item?.key ?? 'task-schedule', task: 'task' })
    const key = item.key ?? ''
    if (keys.has(key)) throw new InvalidOptionError(`Two schedules of one task share the key "${key || '(the task name)'}": give each its own key`)
    keys.add(key)
  }
}

/** An item of `enqueueMany`: a payload, or `{ payload, options }`. */
export type EnqueueManyItem<TInput> = TInput | { payload: TInput; options?: EnqueueOptions }

/** What `enqueueAndWait` resolves to. */
export interface RunResult<TOutput> {
  id: string
  output: TOutput
  run: Run<unknown, TOutput>
}

/** A registered task: enqueue runs of it with its types. */
export interface TaskHandle<TInput = unknown, TOutput = unknown> {
  readonly name: string
  enqueue(payload: TInput, options?: EnqueueOptions): Promise<RunHandle<TOutput>>
  /** Validates every item first, then inserts them all in one transaction. */
  enqueueMany(items: Array<EnqueueManyItem<TInput>>, options?: { tx?: unknown }): Promise<Array<RunHandle<TOutput>>>
  /** Enqueues and waits for the run to finish; throws if it is dead-lettered, cancelled, or the wait times out. */
  enqueueAndWait(payload: TInput, options?: EnqueueAndWaitOptions): Promise<RunResult<TOutput>>
}

/**
 * Options of `enqueueAndWait`: those of `enqueue`, except that `timeout` bounds the wait;
 * `attemptTimeout` sets the limit on each attempt instead.
 */
export type EnqueueAndWaitOptions = Omit<EnqueueOptions, 'timeout'> & {
  /** How long to wait for the run to finish. Default: no limit. */
  timeout?: Duration
  /** Limit on each attempt, as `timeout` in {@link EnqueueOptions}. */
  attemptTimeout?: Duration | false
}

// The payload slot is `any`: a handler taking `{ a: number }` does not accept `unknown`, so `unknown` would never match.
export type HandleOf<T> = T extends TaskDefinition<string, infer I, any, infer O> ? TaskHandle<I, O> : never
