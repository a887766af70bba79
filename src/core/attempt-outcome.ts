import { parseDuration } from './durations.js'
import { NonRetryableError, RetryAfterError } from './errors.js'
import { retryDelay, type RetryPolicy } from './retry.js'

/** What to do with a run whose attempt failed. */
export type FailureDecision = { outcome: 'retry'; delayMs: number } | { outcome: 'dead_lettered' }

/**
 * Decides the fate of a failed attempt: dead-letter when the error is non-retryable or the
 * attempts are used up; otherwise retry after the error's own delay or the policy's backoff.
 * Pure: `random` in [0, 1) feeds the jitter.
 */
export function decideFailure(input: {
  error: unknown
  attempt: number
  maxAttempts: number
  policy: RetryPolicy
  random: number
}): FailureDecision {
  if (input.error instanceof NonRetryableError) return { outcome: 'dead_lettered' }
  if (input.attempt >= input.maxAttempts) return { outcome: 'dead_lettered' }
  if (input.error instanceof RetryAfterError) {
    let delayMs: number
    try {
      delayMs = parseDuration(input.error.delay)
    } catch {
      delayMs = retryDelay(input.policy, input.attempt, input.random)
    }
    return { outcome: 'retry', delayMs }
  }
  return { outcome: 'retry', delayMs: retryDelay(input.policy, input.attempt, input.random) }
}
