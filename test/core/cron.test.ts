import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileCron } from '../../src/core/cron.js'
import { InvalidCronError } from '../../src/core/errors.js'

const iso = (dates: Array<Date | null>) => dates.map((date) => date?.toISOString() ?? null)

/** The ticks after `from`, `count` of them. */
function ticks(expression: string, timezone: string, from: string, count: number): string[] {
  const cron = compileCron(expression, timezone)
  const out: Array<Date | null> = []
  let at: Date | null = new Date(from)
  for (let i = 0; i < count && at; i++) out.push((at = cron.next(at)))
  return iso(out) as string[]
}

describe('compileCron', () => {
  it('reads five fields, six with seconds, and nicknames, in UTC by default', () => {
    expect(ticks('30 9 * * MON-FRI', 'UTC', '2030-01-04T10:00:00Z', 2)).toEqual(['2030-01-07T09:30:00.000Z', '2030-01-08T09:30:00.000Z'])
    expect(ticks('*/20 * * * * *', 'UTC', '2030-01-01T00:00:00Z', 3)).toEqual(['2030-01-01T00:00:20.000Z', '2030-01-01T00:00:40.000Z', '2030-01-01T00:01:00.000Z'])
    expect(ticks('@hourly', 'UTC', '2030-01-01T00:10:00Z', 1)).toEqual(['2030-01-01T01:00:00.000Z'])
    expect(ticks('@daily', 'America/New_York', '2030-01-01T00:00:00Z', 1)).toEqual(['2030-01-01T05:00:00.000Z'])
    expect(compileCron('@weekly').timezone).toBe('UTC')
  })

  it('next is strictly after, previous strictly before', () => {
    const cron = compileCron('0 * * * *')
    expect(iso([cron.next(new Date('2030-01-01T01:00:00Z'))])).toEqual(['2030-01-01T02:00:00.000Z'])
    expect(iso([cron.next(new Date('2030-01-01T00:59:59.999Z'))])).toEqual(['2030-01-01T01:00:00.000Z'])
    expect(iso(cron.previous(new Date('2030-01-01T03:00:00Z'), 2))).toEqual(['2030-01-01T02:00:00.000Z', '2030-01-01T01:00:00.000Z'])
    expect(iso(cron.previous(new Date('2030-01-01T03:00:00.001Z'), 1))).toEqual(['2030-01-01T03:00:00.000Z'])
    expect(cron.previous(new Date('2030-01-01T03:00:00Z'), 0)).toEqual([])
  })

  it('a fixed local time in Europe/Berlin runs once on the spring-forward day and once on the fall-back day', () => {
    // 2030-03-31: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist; it runs at 03:00 CEST.
    expect(ticks('30 2 * * *', 'Europe/Berlin', '2030-03-29T12:00:00Z', 3)).toEqual([
      '2030-03-30T01:30:00.000Z', // 02:30 CET
      '2030-03-31T01:00:00.000Z', // 03:00 CEST, the first valid time after the gap
      '2030-04-01T00:30:00.000Z', // 02:30 CEST
    ])
    // 2030-10-27: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice; it runs once, at the first.
    expect(ticks('30 2 * * *', 'Europe/Berlin', '2030-10-25T12:00:00Z', 3)).toEqual([
      '2030-10-26T00:30:00.000Z', // 02:30 CEST
      '2030-10-27T00:30:00.000Z', // 02:30 CEST, the first of the two
      '2030-10-28T01:30:00.000Z', // 02:30 CET
    ])
  })

  it('an interval schedule in America/New_York skips the missing hour and runs on both occurrences of the repeated one', () => {
    // 2030-03-10: 02:00 EST jumps to 03:00 EDT; 2030-11-03: 02:00 EDT falls back to 01:00 EST.
    expect(ticks('0 * * * *', 'America/New_York', '2030-03-10T05:30:00Z', 3)).toEqual([
      '2030-03-10T06:00:00.000Z', // 01:00 EST
      '2030-03-10T07:00:00.000Z', // 03:00 EDT: 02:00 never happened
      '2030-03-10T08:00:00.000Z', // 04:00 EDT
    ])
    expect(ticks('0 * * * *', 'America/New_York', '2030-11-03T04:30:00Z', 3)).toEqual([
      '2030-11-03T05:00:00.000Z', // 01:00 EDT
      '2030-11-03T06:00:00.000Z', // 01:00 EST
      '2030-11-03T07:00:00.000Z', // 02:00 EST
    ])
    const day = ticks('0 * * * *', 'America/New_York', '2030-11-03T03:59:59Z', 30).filter((t) => t < '2030-11-04T05:00:00.000Z')
    expect(day).toHaveLength(25)
  })

  it('refuses malformed expressions, unknown time zones and expressions that never fire, with a stable code', () => {
    for (const bad of ['', '* * *', '61 * * * *', '* * * * * * *', 'every day', '@reboot', '*/0 * * * *', 42, null]) {
      expect(() => compileCron(bad), String(bad)).toThrow(InvalidCronError)
    }
    expect(() => compileCron('* * * * *', 'Mars/Olympus_Mons')).toThrow(/Unknown time zone "Mars\/Olympus_Mons"/)
    expect(() => compileCron('* * * * *', '')).toThrow(InvalidCronError)
    expect(() => compileCron('0 0 30 2 *')).toThrow(/never fires/)
    try {
      compileCron('61 * * * *')
    } catch (error) {
      expect(error).toMatchObject({ code: 'invalid_cron', message: expect.stringContaining('61 * * * *') })
    }
  })

  it('next and previous agree: the tick after t, seen from just past it, is the newest tick (property)', () => {
    const expressions = ['*/7 * * * * *', '0 */3 * * *', '15 4 * * 1-5', '@daily', '0 0 1 * *']
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']
    fc.assert(
      fc.property(
        fc.constantFrom(...expressions),
        fc.constantFrom(...zones),
        fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2035, 0, 1) }),
        (expression, zone, ms) => {
          const cron = compileCron(expression, zone)
          const after = new Date(ms)
          const next = cron.next(after) as Date
          expect(next.getTime()).toBeGreaterThan(ms)
          expect(next.getUTCMilliseconds()).toBe(0)
          expect(cron.previous(new Date(next.getTime() + 1), 1)).toEqual([next])
          const [before] = cron.previous(next, 1)
          expect(before && before.getTime()).toBeLessThanOrEqual(ms)
        },
      ),
      { numRuns: 300 },
    )
  })
})
