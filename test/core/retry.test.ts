import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decideFailure } from '../../src/core/attempt-outcome.js'
import { InvalidOptionError, NonRetryableError, RetryAfterError } from '../../src/core/errors.js'
import { DEFAULT_RETRY_POLICY, resolveRetryPolicy, retryDelay, type RetryPolicy } from '../../src/core/retry.js'

const policy = (overrides: Parameters<typeof resolveRetryPolicy>[1]): RetryPolicy =>
  resolveRetryPolicy(DEFAULT_RETRY_POLICY, { jitter: false, ...overrides })

describe('retry policies', () => {
  it('fixed waits the initial delay every time', () => {
    const p = policy({ backoff: 'fixed', initialDelay: '10s' })
    expect([1, 2, 5].map((n) => retryDelay(p, n, 0.5))).toEqual([10_000, 10_000, 10_000])
  })

  it('linear grows by the initial delay', () => {
    const p = policy({ backoff: 'linear', initialDelay: '2s' })
    expect([1, 2, 3].map((n) => retryDelay(p, n, 0.5))).toEqual([2_000, 4_000, 6_000])
  })

  it('exponential doubles and stops at maxDelay', () => {
    const p = policy({ backoff: 'exponential', initialDelay: '1s', maxDelay: '5s' })
    expect([1, 2, 3, 4, 10, 100].map((n) => retryDelay(p, n, 0.5))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000])
  })

  it('a custom list is followed in order and its last delay repeats', () => {
    const p = policy({ backoff: { delays: ['10s', '30s', '2m'] } })
    expect([1, 2, 3, 4, 9].map((n) => retryDelay(p, n, 0.5))).toEqual([10_000, 30_000, 120_000, 120_000, 120_000])
  })

  it('rejects malformed policies with clear errors', () => {
    expect(() => policy({ backoff: 'quadratic' as never })).toThrow(InvalidOptionError)
    expect(() => policy({ backoff: { delays: [] } })).toThrow(/at least one delay/)
    expect(() => policy({ attempts: 0 })).toThrow(/retry.attempts/)
    expect(() => policy({ attempts: 1.5 })).toThrow(InvalidOptionError)
    expect(() => policy({ initialDelay: '5 minutes' })).toThrow(/Invalid duration/)
  })

  const arbitraryPolicy = fc.record({
    backoff: fc.constantFrom('fixed', 'linear', 'exponential', 'custom') as fc.Arbitrary<RetryPolicy['backoff']>,
    initialDelayMs: fc.integer({ min: 0, max: 86_400_000 }),
    maxDelayMs: fc.integer({ min: 0, max: 86_400_000 }),
    jitter: fc.boolean(),
    delaysMs: fc.array(fc.integer({ min: 0, max: 86_400_000 }), { minLength: 1, maxLength: 8 }),
    attempts: fc.integer({ min: 1, max: 100 }),
  })

  it('never waits longer than maxDelay, nor a negative or fractional time (property)', () => {
    fc.assert(
      fc.property(arbitraryPolicy, fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (p, attempt, random) => {
        const delay = retryDelay(p, attempt, random)
        expect(Number.isInteger(delay)).toBe(true)
        expect(delay).toBeGreaterThanOrEqual(0)
        expect(delay).toBeLessThanOrEqual(p.maxDelayMs)
      }),
    )
  })

  it('without jitter, waits never shrink from one attempt to the next (property)', () => {
    fc.assert(
      fc.property(arbitraryPolicy.filter((p) => p.backoff !== 'custom'), fc.integer({ min: 1, max: 200 }), (p, attempt) => {
        const fixed = { ...p, jitter: false }
        expect(retryDelay(fixed, attempt + 1, 0)).toBeGreaterThanOrEqual(retryDelay(fixed, attempt, 0))
      }),
    )
  })

  it('jitter stays within ±25% of the plain delay (property)', () => {
    fc.assert(
      fc.property(arbitraryPolicy, fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (p, attempt, random) => {
        const plain = retryDelay({ ...p, jitter: false, maxDelayMs: Number.MAX_SAFE_INTEGER }, attempt, random)
        const jittered = retryDelay({ ...p, jitter: true, maxDelayMs: Number.MAX_SAFE_INTEGER }, attempt, random)
        expect(jittered).toBeGreaterThanOrEqual(Math.floor(plain * 0.75) - 1)
        expect(jittered).toBeLessThanOrEqual(Math.ceil(plain * 1.25) + 1)
      }),
    )
  })
})

describe('decideFailure', () => {
  const p = policy({ backoff: 'fixed', initialDelay: '1s' })

  it('retries while attempts remain, then dead-letters (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), (attempt, maxAttempts) => {
        const decision = decideFailure({ error: new Error('x'), attempt, maxAttempts, policy: p, random: 0.5 })
        expect(decision.outcome).toBe(attempt >= maxAttempts ? 'dead_lettered' : 'retry')
      }),
    )
  })

  it('a NonRetryableError dead-letters at once', () => {
    expect(decideFailure({ error: new NonRetryableError('no'), attempt: 1, maxAttempts: 10, policy: p, random: 0 })).toEqual({ outcome: 'dead_lettered' })
  })

  it('a RetryAfterError sets its own delay', () => {
    expect(decideFailure({ error: new RetryAfterError('later', '30s'), attempt: 1, maxAttempts: 3, policy: p, random: 0 })).toEqual({ outcome: 'retry', delayMs: 30_000 })
  })

  it('a RetryAfterError on the last attempt still dead-letters', () => {
    expect(decideFailure({ error: new RetryAfterError('later', '30s'), attempt: 3, maxAttempts: 3, policy: p, random: 0 }).outcome).toBe('dead_lettered')
  })

  it('non-Error throws follow the policy', () => {
    for (const thrown of [undefined, null, 'text', 42, { a: 1 }]) {
      expect(decideFailure({ error: thrown, attempt: 1, maxAttempts: 2, policy: p, random: 0 })).toEqual({ outcome: 'retry', delayMs: 1_000 })
    }
  })
})
