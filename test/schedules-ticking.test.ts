/**
 * Ticking with clocks the tests move: daylight saving, several errand instances (as several
 * processes would be) ticking one schedule at once with skewed clocks, downtime under each
 * catch-up policy, and each overlap policy. `schedules.tick()` is the pass workers run.
 */
import fc from 'fast-check'
import { beforeEach, describe, expect, it } from 'vitest'
import { HELD_RUN_AT } from '../src/storage/driver.js'
import { defineTask, type CatchUp, type Errand } from '../src/index.js'
import { useErrand } from './support/errand.js'
import { storeKinds } from './support/stores.js'

/** A clock per simulated process. */
function fakeClock(iso: string) {
  const clock = { ms: Date.parse(iso), now: () => new Date(clock.ms), set: (at: string | number) => void (clock.ms = typeof at === 'string' ? Date.parse(at) : at) }
  return clock
}

const clock = fakeClock('2030-01-01T00:00:00.500Z')
const job = defineTask({ name: 'job', run: async () => 'done' })
const utc = (dates: Array<Date | null>) => dates.map((date) => date?.toISOString())

async function scheduledFor(errand: Errand, key: string): Promise<string[]> {
  const runs = (await errand.runs.list({ schedule: key, limit: 1000 })).runs
  return utc(runs.map((run) => run.scheduledFor)).sort() as string[]
}

/** Ticks as a scheduler would: wake at each next tick (plus `lateMs`), until `until`. */
async function runSchedulerUntil(errand: Errand, key: string, until: string, lateMs = 700): Promise<void> {
  for (;;) {
    const next = (await errand.schedules.get(key))?.nextTickAt
    if (!next || next.getTime() > Date.parse(until)) return
    clock.set(next.getTime() + lateMs)
    await errand.schedules.tick()
  }
}

describe.each(storeKinds())('schedule ticks with a controlled clock on $name', (kind) => {
  const t = useErrand(kind, { clock })
  beforeEach(() => {
    clock.set('2030-01-01T00:00:00.500Z')
    t.errand.register({ job })
  })

  it('02:30 in Europe/Berlin runs once on the spring-forward day and once on the fall-back day', async () => {
    clock.set('2030-03-29T12:00:00Z')
    await t.errand.schedules.upsert({ key: 'berlin', task: 'job', cron: '30 2 * * *', timezone: 'Europe/Berlin' })
    await runSchedulerUntil(t.errand, 'berlin', '2030-04-01T12:00:00Z')
    clock.set('2030-10-25T12:00:00Z')
    await t.errand.schedules.upsert({ key: 'berlin', task: 'job', cron: '30 2 * * *', timezone: 'Europe/Berlin', enabled: false })
    await t.errand.schedules.resume('berlin')
    await runSchedulerUntil(t.errand, 'berlin', '2030-10-28T12:00:00Z')
    expect(await scheduledFor(t.errand, 'berlin')).toEqual([
      '2030-03-30T01:30:00.000Z', // 02:30 CET
      '2030-03-31T01:00:00.000Z', // no 02:30 that night: 03:00 CEST, once
      '2030-04-01T00:30:00.000Z', // 02:30 CEST
      '2030-10-26T00:30:00.000Z', // 02:30 CEST
      '2030-10-27T00:30:00.000Z', // 02:30 happens twice that night: once
      '2030-10-28T01:30:00.000Z', // 02:30 CET
    ])
  })

  it('a half-hourly schedule in America/New_York follows real time across both transitions', async () => {
    clock.set('2030-11-03T04:10:00Z') // 00:10 EDT
    await t.errand.schedules.upsert({ key: 'ny', task: 'job', cron: '0,30 * * * *', timezone: 'America/New_York' })
    await runSchedulerUntil(t.errand, 'ny', '2030-11-03T07:40:00Z')
    // 00:30 EDT, then 01:00 and 01:30 twice (EDT, then EST), then 02:00 and 02:30 EST: every half hour of real time.
    expect(await scheduledFor(t.errand, 'ny')).toEqual(
      ['04:30', '05:00', '05:30', '06:00', '06:30', '07:00', '07:30'].map((hm) => `2030-11-03T${hm}:00.000Z`),
    )
  })

  it('two instances ticking at once, with skewed clocks, give each tick exactly one run and miss none (property)', async () => {
    await t.errand.schedules.upsert({ key: 'fast', task: 'job', cron: '*/5 * * * * *' })
    const clockB = fakeClock('2030-01-01T00:00:00.500Z')
    const b = t.another({ clock: clockB })
    b.register({ job })
    let enqueued = 0
    for (const errand of [t.errand, b]) errand.on('schedule.ticked', () => enqueued++)
    const start = clock.ms
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ step: fc.integer({ min: 0, max: 9_000 }), skew: fc.integer({ min: -20_000, max: 20_000 }) }), { minLength: 5, maxLength: 15 }), async (steps) => {
        for (const { step, skew } of steps) {
          clock.set(clock.ms + step)
          clockB.set(clock.ms + skew)
          await Promise.all([t.errand.schedules.tick(), b.schedules.tick(), t.errand.schedules.tick(), b.schedules.tick()])
        }
      }),
      { numRuns: 8 },
    )
    const ticks = await scheduledFor(t.errand, 'fast')
    expect(enqueued).toBe(ticks.length) // no tick was ever enqueued twice, not even refused by the index
    const first = Date.parse(ticks[0] as string)
    const last = Date.parse(ticks[ticks.length - 1] as string)
    expect(first).toBe(Math.ceil(start / 5_000) * 5_000)
    expect(ticks).toEqual(Array.from({ length: (last - first) / 5_000 + 1 }, (_, i) => new Date(first + i * 5_000).toISOString()))
  })

  it('a clock that jumps back ticks nothing twice; the others go on', async () => {
    await t.errand.schedules.upsert({ key: 'm', task: 'job', cron: '* * * * *' })
    const clockB = fakeClock('2030-01-01T00:00:00.500Z')
    const b = t.another({ clock: clockB })
    b.register({ job })
    for (let minute = 1; minute <= 12; minute++) {
      clock.set(Date.parse('2030-01-01T00:00:00.300Z') + minute * 60_000)
      // B runs 10 s ahead until minute 6, then its clock jumps back 10 minutes.
      clockB.set(clock.ms + (minute < 6 ? 10_000 : -600_000))
      await Promise.all([b.schedules.tick(), t.errand.schedules.tick()])
    }
    expect(await scheduledFor(t.errand, 'm')).toEqual(Array.from({ length: 12 }, (_, i) => new Date(Date.parse('2030-01-01T00:01:00Z') + i * 60_000).toISOString()))
  })

  it.each<[CatchUp, string[]]>([
    ['none', []],
    ['latest', ['05:00']],
    [{ max: 3 }, ['03:00', '04:00', '05:00']],
    [{ max: 10, within: '2h45m' }, ['03:00', '04:00', '05:00']],
    [{ max: 10 }, ['01:00', '02:00', '03:00', '04:00', '05:00']],
  ])('after downtime, catchUp %j runs %j', async (catchUp, expected) => {
    await t.errand.schedules.upsert({ key: 'hourly', task: 'job', cron: '0 * * * *', catchUp })
    clock.set('2030-01-01T05:40:00Z') // down from before 01:00 until now
    const missed: string[] = []
    t.errand.on('schedule.missed', (e) => missed.push(`${e.from.toISOString().slice(11, 16)}-${e.to.toISOString().slice(11, 16)}`))
    expect(await t.errand.schedules.tick()).toMatchObject({ enqueued: expected.length, nextTickAt: new Date('2030-01-01T06:00:00Z') })
    expect((await scheduledFor(t.errand, 'hourly')).map((iso) => iso.slice(11, 16))).toEqual(expected)
    const firstKept = expected[0] ?? '06:00'
    expect(missed).toEqual(firstKept === '01:00' ? [] : [`01:00-${String(Number(firstKept.slice(0, 2)) - 1).padStart(2, '0')}:00`])
    expect((await t.errand.schedules.get('hourly'))?.lastTick).toEqual({
      at: new Date('2030-01-01T05:00:00Z'),
      outcome: expected.length ? 'enqueued' : 'missed',
    })
  })

  it("overlap 'skip' records skipped ticks while the previous run is unfinished", async () => {
    await t.errand.schedules.upsert({ key: 's', task: 'job', cron: '* * * * *', overlap: 'skip' })
    clock.set('2030-01-01T00:01:00.100Z')
    await t.errand.schedules.tick()
    clock.set('2030-01-01T00:02:00.100Z')
    expect(await t.errand.schedules.tick()).toMatchObject({ enqueued: 0, skipped: 1 })
    expect((await t.errand.schedules.get('s'))?.lastTick).toEqual({ at: new Date('2030-01-01T00:02:00Z'), outcome: 'skipped' })
    const [first] = (await t.errand.runs.list({ schedule: 's' })).runs
    await t.errand.runs.cancel(first!.id)
    clock.set('2030-01-01T00:03:00.100Z')
    expect(await t.errand.schedules.tick()).toMatchObject({ enqueued: 1, skipped: 0 })
    expect(await scheduledFor(t.errand, 's')).toEqual(['2030-01-01T00:01:00.000Z', '2030-01-01T00:03:00.000Z'])
  })

  it("overlap 'queue' holds each tick's run until the earlier ones finish, then releases them in tick order", async () => {
    await t.errand.schedules.upsert({ key: 'q', task: 'job', cron: '* * * * *', overlap: 'queue' })
    for (const minute of [1, 2, 3]) {
      clock.set(`2030-01-01T00:0${minute}:00.100Z`)
      await t.errand.schedules.tick()
    }
    const byTick = async () =>
      Object.fromEntries((await t.errand.runs.list({ schedule: 'q' })).runs.map((run) => [run.scheduledFor!.toISOString().slice(14, 16), [run.status, run.runAt.getTime() === HELD_RUN_AT.getTime() ? 'held' : 'due']]))
    expect(await byTick()).toEqual({ '01': ['queued', 'due'], '02': ['scheduled', 'held'], '03': ['scheduled', 'held'] })
    const first = (await t.errand.runs.list({ schedule: 'q' })).runs.find((run) => run.status === 'queued')!
    await t.errand.runs.cancel(first.id)
    expect(await t.errand.schedules.tick()).toMatchObject({ enqueued: 0, released: 1 })
    expect(await byTick()).toEqual({ '01': ['cancelled', 'due'], '02': ['queued', 'due'], '03': ['scheduled', 'held'] })
    expect(await t.errand.schedules.tick()).toMatchObject({ released: 0 })
  })

  it("overlap 'allow' gives every tick a run, whatever is still running", async () => {
    await t.errand.schedules.upsert({ key: 'a', task: 'job', cron: '*/20 * * * * *' })
    clock.set('2030-01-01T00:01:00.100Z')
    expect(await t.errand.schedules.tick()).toMatchObject({ enqueued: 3, skipped: 0 })
    expect((await t.errand.runs.list({ schedule: 'a' })).runs.every((run) => run.status === 'queued')).toBe(true)
  })
})
