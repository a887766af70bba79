import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from '../../src/core/durations.js'
import { InvalidDurationError } from '../../src/core/errors.js'

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
    ['1w2d', 777_600_000],
    ['1.5s', 1_500],
    [' 10s ', 10_000],
    ['1500', 1_500],
    [0, 0],
    [1234, 1234],
  ])('reads %j as %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each(['', '5', 'abc', '5x', '5 s', 's5', '1m1h', '1s1s', '-5s', '5s-', '1e3ms', 'NaN', '1h 30m'].filter((s) => s !== '5'))(
    'rejects %j with a clear error',
    (input) => {
      expect(() => parseDuration(input)).toThrow(InvalidDurationError)
      try {
        parseDuration(input)
      } catch (error) {
        expect((error as InvalidDurationError).code).toBe('invalid_duration')
        expect((error as Error).message).toContain(JSON.stringify(input))
      }
    },
  )

  it.each([-1, NaN, Infinity, -Infinity])('rejects the number %d', (input) => {
    expect(() => parseDuration(input)).toThrow(InvalidDurationError)
  })

  it.each([null, undefined, {}, [], true])('rejects the non-duration %j', (input) => {
    expect(() => parseDuration(input as never)).toThrow(InvalidDurationError)
  })

  it('reads back every formatted duration (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms)
      }),
    )
  })

  it('adds the parts of a combined duration (property)', () => {
    const units = [
      ['d', 86_400_000],
      ['h', 3_600_000],
      ['m', 60_000],
      ['s', 1_000],
      ['ms', 1],
    ] as const
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }), { minLength: 5, maxLength: 5 }), (counts) => {
        const parts = units.flatMap(([unit, size], i) => (counts[i] === undefined ? [] : [{ text: `${counts[i]}${unit}`, ms: (counts[i] as number) * size }]))
        fc.pre(parts.length > 0)
        expect(parseDuration(parts.map((p) => p.text).join(''))).toBe(parts.reduce((sum, p) => sum + p.ms, 0))
      }),
    )
  })

  it('never accepts garbage silently (property)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const ms = parseDuration(text)
          expect(Number.isInteger(ms)).toBe(true)
          expect(ms).toBeGreaterThanOrEqual(0)
          expect(text.trim()).toMatch(/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$|^\d+$/)
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidDurationError)
        }
      }),
    )
  })
})
