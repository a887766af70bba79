import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileCron } from '../../src/core/cron.js'
import { checkOverlap, LATE_AFTER_MS, resolveCatchUp, type CatchUp, type Overlap } from '../../src/core/schedule.js'
import { planTicks, type TickPlanInput } from '../../src/core/schedule-plan.js'

const T = (iso: string) => new Date(`2030-01-01T${iso}Z`)
const MINUTE = 60_000

function plan(overrides: Partial<TickPlanInput> & { catchUpOption?: CatchUp } = {}) {
  const { catchUpOption, ...rest } = overrides
  return planTicks({
    cron: compileCron('* * * * *'),
    nextTickAt: T('00:01:00'),
    now: T('00:01:00.250'),
    catchUp: resolveCatchUp(catchUpOption),
    overlap: 'allow',
    hasUnfinishedRun: false,
    ...rest,
  })
}

const at = (p: ReturnType<typeof plan>) => p.ticks.map((tick) => `${tick.at.toISOString().slice(11, 19)} ${tick.decision}`)

describe('planTicks', () => {
  it('runs a tick that is due, and moves on to the next', () => {
    const p = plan()
    expect(at(p)).toEqual(['00:01:00 run'])
    expect(p).toMatchObject({ missed: null, nextTickAt: T('00:02:00'), lastTick: { at: T('00:01:00'), outcome: 'enqueued' } })
  })

  it('runs every tick that is less than a minute late, whatever the catch-up policy', () => {
    const cron = compileCron('*/10 * * * * *')
    for (const catchUpOption of ['none', 'latest', { max: 1 }] as CatchUp[]) {
      const p = plan({ cron, catchUpOption, nextTickAt: T('00:00:10'), now: T('00:00:45') })
      expect(at(p)).toEqual(['00:00:10 run', '00:00:20 run', '00:00:30 run', '00:00:40 run'])
      expect(p.missed).toBeNull()
    }
  })

  it("after downtime, 'none' drops the missed ticks, 'latest' runs the newest, { max, within } the newest few", () => {
    const down = { nextTickAt: T('00:01:00'), now: T('01:00:30') } // ticks 00:01 .. 01:00; 01:00 is on time
    expect(at(plan({ ...down, catchUpOption: 'none' }))).toEqual(['01:00:00 run'])
    expect(plan({ ...down, catchUpOption: 'none' }).missed).toEqual({ from: T('00:01:00'), to: T('00:59:00') })
    // An on-time tick runs anyway, so 'latest' adds nothing to it.
    expect(at(plan({ ...down, catchUpOption: 'latest' }))).toEqual(['01:00:00 run'])
    expect(at(plan({ ...down, catchUpOption: { max: 3 } }))).toEqual(['00:57:00 run', '00:58:00 run', '00:59:00 run', '01:00:00 run'])
    expect(plan({ ...down, catchUpOption: { max: 3 } }).missed).toEqual({ from: T('00:01:00'), to: T('00:56:00') })
    expect(at(plan({ ...down, catchUpOption: { max: 500, within: '2m' } }))).toEqual(['00:59:00 run', '01:00:00 run'])
  })

  it("with no tick on time, 'latest' runs the newest missed one and 'none' runs nothing", () => {
    const hourly = { cron: compileCron('0 * * * *'), nextTickAt: T('01:00:00'), now: T('05:30:00') }
    const latest = plan({ ...hourly, catchUpOption: 'latest' })
    expect(at(latest)).toEqual(['05:00:00 run'])
    expect(latest.missed).toEqual({ from: T('01:00:00'), to: T('04:00:00') })
    expect(latest.nextTickAt).toEqual(T('06:00:00'))
    const none = plan({ ...hourly, catchUpOption: 'none' })
    expect(none.ticks).toEqual([])
    expect(none).toMatchObject({ missed: { from: T('01:00:00'), to: T('05:00:00') }, lastTick: { at: T('05:00:00'), outcome: 'missed' } })
    const within = plan({ ...hourly, catchUpOption: { max: 10, within: '1h' } })
    expect(at(within)).toEqual(['05:00:00 run'])
  })

  it("overlap 'skip' skips ticks while a run is unfinished, and within one pass after the first", () => {
    const busy = plan({ overlap: 'skip', hasUnfinishedRun: true })
    expect(at(busy)).toEqual(['00:01:00 skip'])
    expect(busy.lastTick).toEqual({ at: T('00:01:00'), outcome: 'skipped' })
    const several = plan({ overlap: 'skip', cron: compileCron('*/10 * * * * *'), nextTickAt: T('00:00:10'), now: T('00:00:30') })
    expect(at(several)).toEqual(['00:00:10 run', '00:00:20 skip', '00:00:30 skip'])
  })

  it("overlap 'queue' holds every tick's run; 'allow' runs them all", () => {
    const cron = compileCron('*/10 * * * * *')
    expect(at(plan({ overlap: 'queue', cron, nextTickAt: T('00:00:10'), now: T('00:00:20'), hasUnfinishedRun: true }))).toEqual(['00:00:10 hold', '00:00:20 hold'])
    expect(at(plan({ overlap: 'allow', cron, nextTickAt: T('00:00:10'), now: T('00:00:20'), hasUnfinishedRun: true }))).toEqual(['00:00:10 run', '00:00:20 run'])
  })

  it('stays inside its window and bounds: ticks ascending, unique, from the stored tick to now (property)', () => {
    const expressions = ['* * * * * *', '*/15 * * * * *', '* * * * *', '*/5 * * * *', '0 * * * *', '30 2 * * *']
    const arbitrary = fc.record({
      expression: fc.constantFrom(...expressions),
      zone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
      start: fc.integer({ min: Date.UTC(2030, 0, 1), max: Date.UTC(2031, 0, 1) }),
      downtime: fc.integer({ min: 0, max: 3 * 86_400_000 }),
      catchUp: fc.constantFrom<CatchUp>('none', 'latest', { max: 1 }, { max: 5 }, { max: 5, within: '10m' }),
      overlap: fc.constantFrom<Overlap>('allow', 'skip', 'queue'),
      busy: fc.boolean(),
    })
    fc.assert(
      fc.property(arbitrary, (input) => {
        const cron = compileCron(input.expression, input.zone)
        const nextTickAt = cron.next(new Date(input.start)) as Date
        const now = new Date(nextTickAt.getTime() + input.downtime)
        const p = planTicks({ cron, nextTickAt, now, catchUp: resolveCatchUp(input.catchUp), overlap: checkOverlap(input.overlap), hasUnfinishedRun: input.busy })
        const times = p.ticks.map((tick) => tick.at.getTime())
        expect([...times].sort((a, b) => a - b)).toEqual(times)
        expect(new Set(times).size).toBe(times.length)
        for (const time of times) {
          expect(time).toBeGreaterThanOrEqual(nextTickAt.getTime())
          expect(time).toBeLessThanOrEqual(now.getTime())
        }
        // Every tick of the last minute is there; older ones only as many as the policy allows.
        const late = times.filter((time) => time <= now.getTime() - LATE_AFTER_MS).length
        const allowed = input.catchUp === 'none' ? 0 : input.catchUp === 'latest' ? 1 : input.catchUp.max
        expect(late).toBeLessThanOrEqual(allowed)
        expect(p.nextTickAt && p.nextTickAt.getTime()).toBeGreaterThan(now.getTime())
        if (p.missed) expect(p.missed.to.getTime()).toBeLessThan(times[0] ?? Infinity)
        if (input.overlap === 'skip') expect(p.ticks.filter((tick) => tick.decision === 'run').length).toBeLessThanOrEqual(input.busy ? 0 : 1)
      }),
      { numRuns: 300 },
    )
  })

  it('checks catch-up and overlap options', () => {
    expect(resolveCatchUp(undefined)).toEqual({ mode: 'latest' })
    expect(resolveCatchUp({ max: 3, within: '6h' })).toEqual({ mode: 'bounded', max: 3, withinMs: 6 * 60 * MINUTE })
    for (const bad of ['all', { max: 0 }, { max: 1.5 }, { max: 2, extra: 1 }, { within: '1h' }, [1]]) {
      expect(() => resolveCatchUp(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'invalid_option' }))
    }
    expect(() => resolveCatchUp({ max: 1, within: 'soon' })).toThrow(expect.objectContaining({ code: 'invalid_duration' }))
    expect(checkOverlap(undefined)).toBe('allow')
    expect(() => checkOverlap('wait')).toThrow(expect.objectContaining({ code: 'invalid_option' }))
  })
})
