import { parseDuration, type Duration } from './durations.js'
import { InvalidOptionError } from './errors.js'
import { resolveQueueSpec, type JobKeyMode, type QueueSpec } from './queue-options.js'
import { checkAttempts, DEFAULT_RETRY_POLICY, resolveRetryPolicy, type RetryOptions, type RetryPolicy } from './retry.js'

/** Options of one enqueue. Every field is optional; they override the task's defaults. */
export interface EnqueueOptions {
  /** Run after this long (ms or `'5m'`). Not together with `runAt`. */
  delay?: Duration
  /** Run at this time (a Date or an ISO 8601 string). Not together with `delay`. */
  runAt?: Date | string
  /** Smaller runs first. A whole number; default the task's, else 0. */
  priority?: number
  /** Every attempt counts, the first included. Overrides `retry.attempts`. */
  maxAttempts?: number
  /** Overrides the task's retry policy, field by field. */
  retry?: RetryOptions
  /** Limit on each attempt (ms or `'30s'`), or `false` for none. */
  timeout?: Duration | false
  /** While a run of this task with this key exists, enqueue returns it with `created: false`. Not together with `jobKey`. */
  idempotencyKey?: string
  /**
   * Names the run's slot for this task: while the key's run has not started, a new enqueue
   * with the key updates it instead of adding a run (see `jobKeyMode`). Once it has started,
   * the next enqueue creates a new run, which takes over the key.
   */
  jobKey?: string
  /** What a `jobKey` already taken does. Default `'replace'`. Only with `jobKey`. */
  jobKeyMode?: JobKeyMode
  /** Serial queue: runs with the same queue run one at a time across every worker, in priority then time order. Default the task's, else none. */
  queue?: string
  /** Runs with the same key run at most `concurrencyLimit` at once across every worker. */
  concurrencyKey?: string
  /** How many runs of `concurrencyKey` may run at once. Default 1. Only with `concurrencyKey`. */
  concurrencyLimit?: number
  /** Labels that workers may refuse with `forbiddenFlags`. At most 32 strings. */
  flags?: string[]
  /** Free-form JSON kept with the run. */
  metadata?: Record<string, unknown>
  /** Enqueue inside the caller's own database transaction, where the store supports it. */
  tx?: unknown
}

/** Defaults a task gives its runs. */
export interface TaskRunDefaults {
  retry?: RetryOptions
  maxAttempts?: number
  timeout?: Duration | false
  priority?: number
  /** Default serial queue of its runs. */
  queue?: string
}

/** Every enqueue setting resolved: what the store needs, apart from identity and payload. */
export interface RunSpec extends QueueSpec {
  runAt: Date
  due: boolean
  priority: number
  maxAttempts: number
  retryPolicy: RetryPolicy
  timeoutMs: number | null
  idempotencyKey: string | null
  metadata: Record<string, unknown>
}

/** Without a timeout, a handler that never settles would hold its worker slot forever. */
export const DEFAULT_TIMEOUT_MS = 15 * 60_000

const KNOWN_OPTIONS = new Set([
  'delay', 'runAt', 'priority', 'maxAttempts', 'retry', 'timeout', 'idempotencyKey', 'metadata', 'tx',
  'jobKey', 'jobKeyMode', 'queue', 'concurrencyKey', 'concurrencyLimit', 'flags',
])

/** Resolves enqueue options over task defaults at time `now`. Throws on anything malformed. */
export function resolveRunSpec(defaults: TaskRunDefaults, options: EnqueueOptions | undefined, now: Date): RunSpec {
  const opts = options ?? {}
  checkOptionNames(opts)
  const runAt = resolveRunAt(opts, now)
  const retryPolicy = resolveRetryPolicy(
    DEFAULT_RETRY_POLICY,
    defaults.retry,
    defaults.maxAttempts === undefined ? undefined : { attempts: checkAttempts(defaults.maxAttempts, 'maxAttempts') },
    opts.retry,
    opts.maxAttempts === undefined ? undefined : { attempts: checkAttempts(opts.maxAttempts, 'maxAttempts') },
  )
  return {
    runAt,
    due: runAt.getTime() <= now.getTime(),
    priority: checkPriority(opts.priority ?? defaults.priority ?? 0),
    maxAttempts: retryPolicy.attempts,
    retryPolicy,
    timeoutMs: resolveTimeout(opts.timeout !== undefined ? opts.timeout : defaults.timeout),
    idempotencyKey: checkKey(opts.idempotencyKey, 'idempotencyKey'),
    metadata: checkMetadata(opts.metadata),
    ...resolveQueueSpec(defaults.queue, opts),
  }
}

function checkOptionNames(options: object): void {
  for (const name of Object.keys(options)) {
    if ((options as Record<string, unknown>)[name] === undefined || KNOWN_OPTIONS.has(name)) continue
    throw new InvalidOptionError(`Unknown enqueue option "${name}"`)
  }
}

function resolveRunAt(options: EnqueueOptions, now: Date): Date {
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new InvalidOptionError('Pass either delay or runAt, not both')
  }
  if (options.delay !== undefined) return new Date(now.getTime() + parseDuration(options.delay))
  if (options.runAt === undefined) return now
  const runAt = options.runAt instanceof Date ? options.runAt : typeof options.runAt === 'string' ? new Date(options.runAt) : null
  if (!runAt || Number.isNaN(runAt.getTime())) {
    throw new InvalidOptionError(`runAt must be a Date or an ISO 8601 string, got ${JSON.stringify(options.runAt)}`)
  }
  return runAt
}

/** Resolves a timeout option: a duration, or `false` for none; `undefined` means the default. */
export function resolveTimeout(timeout: Duration | false | undefined): number | null {
  if (timeout === false) return null
  if (timeout === undefined) return DEFAULT_TIMEOUT_MS
  const ms = parseDuration(timeout)
  if (ms === 0) throw new InvalidOptionError('timeout must be positive (use false for no timeout)')
  return ms
}

function checkPriority(priority: unknown): number {
  if (typeof priority !== 'number' || !Number.isInteger(priority) || Math.abs(priority) > 2 ** 31 - 1) {
    throw new InvalidOptionError(`priority must be a whole number, got ${String(priority)}`)
  }
  return priority
}

/** Checks an optional key option: a non-empty string of at most 512 characters. */
export function checkKey(key: unknown, name: string): string | null {
  if (key === undefined || key === null) return null
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
    throw new InvalidOptionError(`${name} must be a non-empty string of at most 512 characters`)
  }
  return key
}

function checkMetadata(metadata: unknown): Record<string, unknown> {
  if (metadata === undefined || metadata === null) return {}
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new InvalidOptionError('metadata must be a plain object')
  return metadata as Record<string, unknown>
}
