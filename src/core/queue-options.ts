import { InvalidOptionError } from './errors.js'
import { checkWholeNumber } from './whole-number.js'

/**
 * What a job key does when the key already has a run:
 * - `'replace'`: the key's run that has not started yet takes the new payload, time,
 *   priority, attempts and every other option (array payloads are appended instead);
 * - `'preserve_run_at'`: the same, except that the run keeps its time;
 * - `'unsafe_dedupe'`: the key's latest run is returned unchanged, whatever its status.
 */
export type JobKeyMode = 'replace' | 'preserve_run_at' | 'unsafe_dedupe'

/** Every {@link JobKeyMode}, for checks and messages. */
export const JOB_KEY_MODES: readonly JobKeyMode[] = ['replace', 'preserve_run_at', 'unsafe_dedupe']

/** The grouping options of one enqueue, as the caller wrote them. */
export interface QueueOptionsInput {
  idempotencyKey?: unknown
  jobKey?: unknown
  jobKeyMode?: unknown
  queue?: unknown
  concurrencyKey?: unknown
  concurrencyLimit?: unknown
  flags?: unknown
}

/** Grouping settings resolved: keys, the serial queue, the concurrency group, flags. */
export interface QueueSpec {
  jobKey: string | null
  /** Null exactly when `jobKey` is. */
  jobKeyMode: JobKeyMode | null
  queue: string | null
  concurrencyKey: string | null
  /** Null exactly when `concurrencyKey` is. */
  concurrencyLimit: number | null
  flags: string[]
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Most flags on one run; a run is checked against a worker's forbidden flags at every claim. */
export const MAX_FLAGS = 32
/** Most runs of one concurrency key allowed at once. */
export const MAX_CONCURRENCY_LIMIT = 10_000

/**
 * Resolves the grouping options of an enqueue over the task's default queue. Throws
 * `InvalidOptionError` on anything malformed, and on combinations that would have no exact
 * meaning (`jobKeyMode` without `jobKey`, `jobKey` with `idempotencyKey`...): an option is
 * never silently ignored.
 */
export function resolveQueueSpec(defaultQueue: unknown, options: QueueOptionsInput): QueueSpec {
  const jobKey = checkName(options.jobKey, 'jobKey')
  if (jobKey === null && options.jobKeyMode !== undefined) throw new InvalidOptionError('jobKeyMode needs a jobKey')
  if (jobKey !== null && options.idempotencyKey !== undefined && options.idempotencyKey !== null) {
    throw new InvalidOptionError('Pass either idempotencyKey or jobKey, not both: one returns the first run unchanged, the other updates it')
  }
  const concurrencyKey = checkName(options.concurrencyKey, 'concurrencyKey')
  if (concurrencyKey === null && options.concurrencyLimit !== undefined) throw new InvalidOptionError('concurrencyLimit needs a concurrencyKey')
  return {
    jobKey,
    jobKeyMode: jobKey === null ? null : checkMode(options.jobKeyMode),
    queue: checkName(options.queue !== undefined ? options.queue : defaultQueue, 'queue'),
    concurrencyKey,
    concurrencyLimit: concurrencyKey === null ? null : checkLimit(options.concurrencyLimit),
    flags: checkFlags(options.flags),
  }
}

function checkMode(mode: unknown): JobKeyMode {
  if (mode === undefined) return 'replace'
  if (!JOB_KEY_MODES.includes(mode as JobKeyMode)) {
    throw new InvalidOptionError(`jobKeyMode must be one of ${JOB_KEY_MODES.join(', ')}, got ${JSON.stringify(mode)}`)
  }
  return mode as JobKeyMode
}

function checkLimit(limit: unknown): number {
  if (limit === undefined) return 1
  return checkWholeNumber(limit, 'concurrencyLimit', 1, MAX_CONCURRENCY_LIMIT)
}

/**
 * Checks a name-like option (a key, a queue, a flag): a non-empty string of at most 512
 * characters, with no NUL and no unpaired surrogate. Those two are refused because
 * PostgreSQL's text and jsonb cannot hold them, and a name must compare equal in both stores.
 */
export function checkName(value: unknown, name: string, maxLength = 512): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new InvalidOptionError(`${name} must be a non-empty string of at most ${maxLength} characters`)
  }
  if (value.includes('\u0000') || LONE_SURROGATE.test(value)) throw new InvalidOptionError(`${name} must not contain NUL or unpaired surrogates`)
  return value
}

/** Checks a list of flags: strings as {@link checkName} (at most 200 characters each), at most `max` of them. */
export function checkFlags(flags: unknown, name = 'flags', max = MAX_FLAGS): string[] {
  if (flags === undefined || flags === null) return []
  if (!Array.isArray(flags) || flags.length > max) throw new InvalidOptionError(`${name} must be an array of at most ${max} strings`)
  return flags.map((flag, index) => checkName(flag, `${name}[${index}]`, 200) as string)
}
