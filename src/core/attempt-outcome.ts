import { parseDuration } from './durations.js'
import { BatchItemsFailedError, NonRetryableError, RetryAfterError } from './errors.js'
import { retryDelay, type RetryPolicy } from './retry.js'

/** What to do with a run whose attempt failed. */
export type FailureDecision = { outcome: 'retry'; delayMs: number } | { outcome: 'dead_lettered' }

/**
 * Decides the fate of a failed attempt: dead-letter when the error is non-retryable or the
 * attempts are used up; otherwise retry after the error's own delay or the policy's backoff.
 * A batch whose items failed is judged by those items' errors: any non-retryable one
 * dead-letters the run (with the failed items as its payload, so none is lost), and the
 * longest `RetryAfterError` delay among them wins. Pure: `random` in [0, 1) feeds the jitter.
 */
export function decideFailure(input: {
  error: unknown
  attempt: number
  maxAttempts: number
  policy: RetryPolicy
  random: number
}): FailureDecision {
  const errors = input.error instanceof BatchItemsFailedError ? input.error.failures.map((failure) => failure.error) : [input.error]
  if (errors.some((error) => error instanceof NonRetryableError)) return { outcome: 'dead_lettered' }
  if (input.attempt >= input.maxAttempts) return { outcome: 'dead_lettered' }
  const backoff = () => retryDelay(input.policy, input.attempt, input.random)
  const asked = errors.filter((error): error is RetryAfterError => error instanceof RetryAfterError)
  if (asked.length > 0) return { outcome: 'retry', delayMs: Math.max(...asked.map((error) => askedDelay(error, backoff))) }
  return { outcome: 'retry', delayMs: backoff() }
}

function askedDelay(error: RetryAfterError, fallback: () => number): number {
  try {
    return parseDuration(error.delay)
  } catch {
    return fallback()
  }
}
