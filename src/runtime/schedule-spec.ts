/**
 * Schedules as users write them, and how one becomes a stored schedule: checked, its task's
 * payload schema and run defaults applied, its first tick computed.
 */
import { createHash } from 'node:crypto'
import { compileCron, DEFAULT_TIMEZONE } from '../core/cron.js'
import type { Duration } from '../core/durations.js'
import { InvalidOptionError } from '../core/errors.js'
import { toStoredJson } from '../core/json.js'
import type { RetryOptions } from '../core/retry.js'
import { resolveRunSpec } from '../core/run-options.js'
import { checkOverlap, checkScheduleKey, resolveCatchUp, type CatchUp, type Overlap } from '../core/schedule.js'
import type { NewSchedule, ScheduleRecord, ScheduleRunSpec } from '../storage/driver.js'
import type { ErrandInternals } from './internals.js'
import { validateWithSchema } from './schema.js'
import type { AnyTaskDefinition } from './task.js'

/** Settings of every run a schedule makes. They override the task's defaults. */
export interface ScheduleRunOptions {
  /** Smaller runs first. Default the task's, else 0. */
  priority?: number
  /** Every attempt counts, the first included. Overrides `retry.attempts`. */
  maxAttempts?: number
  /** Overrides the task's retry policy, field by field. */
  retry?: RetryOptions
  /** Limit on each attempt, or `false` for none. Default the task's, else `'15m'`. */
  timeout?: Duration | false
  /** Free-form JSON kept with each run. */
  metadata?: Record<string, unknown>
  /** Serial queue of each run (one run of the queue at a time). Default the task's queue. */
  queue?: string
  /** Concurrency group of each run: at most `concurrencyLimit` of its runs at once. */
  concurrencyKey?: string
  /** Runs of `concurrencyKey` at once. Default 1. */
  concurrencyLimit?: number
  /** Flags of each run; a worker that forbids one of them does not take it. */
  flags?: string[]
}

/** A recurring schedule: a task, a payload, and when. */
export interface ScheduleOptions<TPayload = unknown> {
  /** Names the schedule; upserting the same key again updates it. At most 200 characters. */
  key: string
  /** The task to run: its name, or its definition. It must be registered with the errand instance. */
  task: string | AnyTaskDefinition
  /** Five fields (`'0 9 * * MON-FRI'`), six with seconds first (`'*\/10 * * * * *'`), or `@hourly`, `@daily`... */
  cron: string
  /** IANA time zone the cron expression reads in. Default `'UTC'`. */
  timezone?: string
  /** The payload of every run, validated against the task's input schema. Default `undefined`. */
  payload?: TPayload
  /** Ticks missed while no scheduler ran. Default `'latest'`. See {@link CatchUp}. */
  catchUp?: CatchUp
  /** A tick while a run of the schedule is unfinished. Default `'allow'`. See {@link Overlap}. */
  overlap?: Overlap
  /** `false` pauses it. Omitted: `true` for a new schedule, unchanged for an existing one. */
  enabled?: boolean
  /** Settings of its runs. */
  options?: ScheduleRunOptions
}

/** A schedule declared on a task definition: `key` defaults to the task's name. */
export type TaskSchedule<TPayload = unknown> = Omit<ScheduleOptions<TPayload>, 'task' | 'key'> & { key?: string }

/** A schedule as the API shows it. */
export interface Schedule {
  key: string
  task: string
  cron: string
  timezone: string
  payload: unknown
  catchUp: CatchUp
  overlap: Overlap
  enabled: boolean
  options: ScheduleRunOptions
  /** When the next tick is due; null while paused. */
  nextTickAt: Date | null
  /** The newest tick dealt with, and what became of it; null before the first. */
  lastTick: { at: Date; outcome: 'enqueued' | 'skipped' | 'missed' } | null
  /** The run of the newest tick that had one. */
  lastRunId: string | null
  createdAt: Date
  updatedAt: Date
}

const KEYS = new Set(['key', 'task', 'cron', 'timezone', 'payload', 'catchUp', 'overlap', 'enabled', 'options'])
const RUN_OPTION_KEYS = new Set(['priority', 'maxAttempts', 'retry', 'timeout', 'metadata', 'queue', 'concurrencyKey', 'concurrencyLimit', 'flags'])

/**
 * Checks everything about a schedule that needs no task: key, cron, time zone, policies,
 * run options. Throws `InvalidCronError` or `InvalidOptionError`. Runs at definition, so a
 * mistake in a declared schedule fails when the code loads.
 */
export function checkScheduleOptions(options: ScheduleOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('A schedule must be an object with key, task and cron')
  for (const name of Object.keys(options)) {
    if (!KEYS.has(name) && (options as unknown as Record<string, unknown>)[name] !== undefined) throw new InvalidOptionError(`Unknown schedule option "${name}"`)
  }
  const key = checkScheduleKey(options.key)
  const task = options.task as unknown
  if (typeof task !== 'string' && (typeof task !== 'object' || task === null || typeof (task as { name?: unknown }).name !== 'string')) {
    throw new InvalidOptionError(`Schedule "${key}": task must be a task name or definition`)
  }
  compileCron(options.cron, options.timezone ?? DEFAULT_TIMEZONE)
  resolveCatchUp(options.catchUp)
  checkOverlap(options.overlap)
  if (options.enabled !== undefined && typeof options.enabled !== 'boolean') throw new InvalidOptionError(`Schedule "${key}": enabled must be a boolean`)
  checkRunOptions(options.options, key)
}

function checkRunOptions(options: unknown, key: string): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidOptionError(`Schedule "${key}": options must be an object`)
  for (const name of Object.keys(options)) {
    if (!RUN_OPTION_KEYS.has(name)) throw new InvalidOptionError(`Schedule "${key}": "${name}" is not a run option of a schedule (${[...RUN_OPTION_KEYS].join(', ')})`)
  }
  resolveRunSpec({}, options, new Date(0))
}

/** The schedules a task definition declares, with their keys filled in. */
export function schedulesOfTask(task: AnyTaskDefinition): ScheduleOptions[] {
  const declared = task.options.schedule
  if (declared === undefined) return []
  const list = Array.isArray(declared) ? declared : [declared]
  return list.map((item) => ({ ...item, key: item.key ?? task.name, task: task.name }))
}

/**
 * Turns schedule options into the schedule to store, for `now`: the task must be
 * registered (`UnknownTaskError`), the payload must pass its input schema (`ValidationError`;
 * the schema's output is stored), and the task's run defaults are resolved under the
 * schedule's own options.
 */
export async function resolveSchedule(internals: ErrandInternals, options: ScheduleOptions, now: Date): Promise<NewSchedule> {
  checkScheduleOptions(options)
  const task = internals.getTask(typeof options.task === 'string' ? options.task : options.task.name)
  const payload = task.options.input ? await validateWithSchema(task.options.input, options.payload, `Invalid payload for schedule "${options.key}" of task "${task.name}"`) : options.payload
  const spec = resolveRunSpec(task.options, options.options, now)
  const cron = compileCron(options.cron, options.timezone ?? DEFAULT_TIMEZONE)
  const runSpec: ScheduleRunSpec = {
    priority: spec.priority,
    maxAttempts: spec.maxAttempts,
    retryPolicy: spec.retryPolicy,
    timeoutMs: spec.timeoutMs,
    metadata: spec.metadata,
    queue: spec.queue,
    concurrencyKey: spec.concurrencyKey,
    concurrencyLimit: spec.concurrencyLimit,
    flags: spec.flags,
  }
  const schedule = {
    key: options.key,
    task: task.name,
    cron: options.cron,
    timezone: cron.timezone,
    payloadJson: toStoredJson(payload, 'payload'),
    optionsJson: toStoredJson(options.options ?? {}, 'options'),
    runSpec,
    catchUp: options.catchUp ?? 'latest',
    overlap: checkOverlap(options.overlap),
    enabled: options.enabled ?? null,
  }
  return { ...schedule, nextTickAt: cron.next(now), fingerprint: fingerprintOf(schedule) }
}

/** A digest of everything declared, so a redeploy of the same declaration writes nothing. */
function fingerprintOf(schedule: Omit<NewSchedule, 'nextTickAt' | 'fingerprint'>): string {
  return createHash('sha256').update(JSON.stringify(schedule)).digest('hex').slice(0, 32)
}

/** The API's view of a stored schedule. */
export function toPublicSchedule(record: ScheduleRecord): Schedule {
  return {
    key: record.key,
    task: record.task,
    cron: record.cron,
    timezone: record.timezone,
    payload: record.payload,
    catchUp: record.catchUp,
    overlap: record.overlap,
    enabled: record.enabled,
    options: record.options as ScheduleRunOptions,
    nextTickAt: record.nextTickAt,
    lastTick: record.lastTickAt && record.lastTickOutcome ? { at: record.lastTickAt, outcome: record.lastTickOutcome } : null,
    lastRunId: record.lastRunId,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  }
}
