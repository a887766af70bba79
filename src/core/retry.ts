import { parseDuration, type Duration } from './durations.js'
import { InvalidOptionError } from './errors.js'
import { checkWholeNumber } from './whole-number.js'

/** How the wait between attempts grows. `{ delays }` lists each wait; the last one repeats. */
export type Backoff = 'fixed' | 'linear' | 'exponential' | { delays: Duration[] }

/** A retry policy as users write it. Every field is optional. */
export interface RetryOptions {
  /** Every attempt counts, the first included. Default 3. */
  attempts?: number
  /** Default `'exponential'`. */
  backoff?: Backoff
  /** Wait before the first retry (the base of the backoff). Default `'1s'`. */
  initialDelay?: Duration
  /** No wait is longer than this. Default `'1h'`. */
  maxDelay?: Duration
  /** Spread each wait by ±25% so failed runs do not retry in lockstep. Default true. */
  jitter?: boolean
}

/** A retry policy with every default applied and every duration in milliseconds. */
export interface RetryPolicy {
  attempts: number
  backoff: 'fixed' | 'linear' | 'exponential' | 'custom'
  initialDelayMs: number
  maxDelayMs: number
  jitter: boolean
  /** Only for `custom`: each wait in turn. */
  delaysMs?: number[]
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 3,
  backoff: 'exponential',
  initialDelayMs: 1_000,
  maxDelayMs: 3_600_000,
  jitter: true,
}) as RetryPolicy

/** Applies `options` over `base` (later arguments win) and checks every field. */
export function resolveRetryPolicy(base: RetryPolicy, ...layers: Array<RetryOptions | undefined>): RetryPolicy {
  let policy: RetryPolicy = { ...base }
  for (const options of layers) {
    if (!options) continue
    policy = applyRetryOptions(policy, options)
  }
  return policy
}

function applyRetryOptions(base: RetryPolicy, options: RetryOptions): RetryPolicy {
  const next: RetryPolicy = { ...base }
  if (options.attempts !== undefined) next.attempts = checkAttempts(options.attempts, 'retry.attempts')
  if (options.initialDelay !== undefined) next.initialDelayMs = parseDuration(options.initialDelay)
  if (options.maxDelay !== undefined) next.maxDelayMs = parseDuration(options.maxDelay)
  if (options.jitter !== undefined) next.jitter = Boolean(options.jitter)
  if (options.backoff !== undefined) {
    const backoff = options.backoff
    if (typeof backoff === 'object' && backoff !== null && Array.isArray(backoff.delays)) {
      if (backoff.delays.length === 0) throw new InvalidOptionError('retry.backoff.delays must list at least one delay')
      next.backoff = 'custom'
      next.delaysMs = backoff.delays.map((delay) => parseDuration(delay))
    } else if (backoff === 'fixed' || backoff === 'linear' || backoff === 'exponential') {
      next.backoff = backoff
      delete next.delaysMs
    } else {
      throw new InvalidOptionError(
        `retry.backoff must be 'fixed', 'linear', 'exponential' or { delays: [...] }, got ${JSON.stringify(backoff)}`,
      )
    }
  }
  return next
}

/** The most attempts a run may have. */
export const MAX_ATTEMPTS = 1_000_000

/** Checks an attempt count: a whole number from 1 to MAX_ATTEMPTS. */
export function checkAttempts(value: unknown, name: string): number {
  return checkWholeNumber(value, name, 1, MAX_ATTEMPTS)
}

/**
 * The wait in milliseconds before the attempt after `failedAttempt` (1-based).
 * `random` is a number in [0, 1), passed in so the function stays pure.
 */
export function retryDelay(policy: RetryPolicy, failedAttempt: number, random: number): number {
  const n = Math.max(1, failedAttempt)
  let delay: number
  switch (policy.backoff) {
    case 'fixed':
      delay = policy.initialDelayMs
      break
    case 'linear':
      delay = policy.initialDelayMs * n
      break
    case 'exponential':
      delay = policy.initialDelayMs * 2 ** Math.min(n - 1, 60)
      break
    case 'custom': {
      const delays = policy.delaysMs ?? [policy.initialDelayMs]
      delay = delays[Math.min(n - 1, delays.length - 1)] ?? policy.initialDelayMs
      break
    }
  }
  if (policy.jitter) delay = delay * (0.75 + 0.5 * clampUnit(random))
  return Math.round(Math.min(delay, policy.maxDelayMs))
}

function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0
  return value >= 1 ? 0.999999 : value
}
