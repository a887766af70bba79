import { beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTask, Errand, InvalidCronError, ScheduleNotFoundError, UnknownTaskError, type ErrandEvents } from '../src/index.js'
import { useErrand } from './support/errand.js'
import { storeKinds } from './support/stores.js'

/** A clock the test moves by hand. */
const clock = { ms: 0, now: () => new Date(clock.ms), set: (iso: string) => void (clock.ms = Date.parse(iso)) }
const T = (time: string) => new Date(`2030-01-01T${time}Z`)

const report = defineTask({
  name: 'report',
  input: z.object({ kind: z.enum(['daily', 'weekly']), to: z.string().default('ops@example.com') }),
  retry: { attempts: 5 },
  priority: 3,
  run: async (payload) => payload.kind,
})

describe.each(storeKinds())('schedules API on $name', (kind) => {
  const t = useErrand(kind, { clock })
  beforeEach(() => {
    clock.set('2030-01-01T00:00:00.500Z')
    t.errand.register({ report })
  })

  it('upserts a schedule and reads it back: task defaults under its own options, payload through the schema', async () => {
    const created = await t.errand.schedules.upsert({
      key: 'daily-report',
      task: 'report',
      cron: '0 9 * * *',
      timezone: 'Europe/Berlin',
      payload: { kind: 'daily' },
      catchUp: { max: 2, within: '6h' },
      overlap: 'skip',
      options: { priority: 1, metadata: { team: 'ops' } },
    })
    expect(created).toEqual({
      key: 'daily-report',
      task: 'report',
      cron: '0 9 * * *',
      timezone: 'Europe/Berlin',
      payload: { kind: 'daily', to: 'ops@example.com' },
      catchUp: { max: 2, within: '6h' },
      overlap: 'skip',
      enabled: true,
      options: { priority: 1, metadata: { team: 'ops' } },
      nextTickAt: T('08:00:00'),
      lastTick: null,
      lastRunId: null,
      createdAt: T('00:00:00.500'),
      updatedAt: T('00:00:00.500'),
    })
    expect(await t.errand.schedules.get('daily-report')).toEqual(created)
    expect(await t.errand.schedules.get('missing')).toBeNull()
    await t.errand.schedules.upsert({ key: 'a-first', task: report, cron: '@hourly', payload: { kind: 'weekly' } })
    expect((await t.errand.schedules.list()).map((s) => [s.key, s.timezone, s.catchUp, s.overlap])).toEqual([
      ['a-first', 'UTC', 'latest', 'allow'],
      ['daily-report', 'Europe/Berlin', { max: 2, within: '6h' }, 'skip'],
    ])
    expect((await t.errand.schedules.list({ limit: 1 })).map((s) => s.key)).toEqual(['a-first'])
    expect((await t.errand.schedules.list({ after: 'a-first', limit: 1 })).map((s) => s.key)).toEqual(['daily-report'])
    clock.set('2030-01-01T08:00:01Z')
    await t.errand.schedules.tick()
    const [run] = (await t.errand.runs.list({ schedule: 'daily-report' })).runs
    expect(run).toMatchObject({ task: 'report', priority: 1, maxAttempts: 5, metadata: { team: 'ops' }, payload: { kind: 'daily', to: 'ops@example.com' } })
  })

  it('upserting again keeps the next and last tick; a new cron or zone recomputes the next tick', async () => {
    const options = { key: 'r', task: 'report', cron: '*/15 * * * *', payload: { kind: 'daily' as const } }
    await t.errand.schedules.upsert(options)
    clock.set('2030-01-01T00:15:00.100Z')
    await t.errand.schedules.tick()
    clock.set('2030-01-01T00:20:00Z')
    const again = await t.errand.schedules.upsert({ ...options, payload: { kind: 'weekly' } })
    expect(again).toMatchObject({ nextTickAt: T('00:30:00'), lastTick: { at: T('00:15:00'), outcome: 'enqueued' }, payload: { kind: 'weekly' } })
    const changed = await t.errand.schedules.upsert({ ...options, cron: '0 * * * *' })
    expect(changed).toMatchObject({ cron: '0 * * * *', nextTickAt: T('01:00:00'), lastTick: { at: T('00:15:00') } })
    const zoned = await t.errand.schedules.upsert({ ...options, cron: '0 * * * *', timezone: 'Asia/Kolkata' })
    expect(zoned.nextTickAt).toEqual(T('00:30:00')) // Kolkata is UTC+05:30: its hours start at :30 UTC
  })

  it('refuses invalid schedules with clear errors and writes nothing', async () => {
    const base = { key: 'bad', task: 'report', cron: '* * * * *', payload: { kind: 'daily' } }
    await expect(t.errand.schedules.upsert({ ...base, cron: '61 * * * *' })).rejects.toBeInstanceOf(InvalidCronError)
    await expect(t.errand.schedules.upsert({ ...base, cron: 'every minute' })).rejects.toMatchObject({ code: 'invalid_cron' })
    await expect(t.errand.schedules.upsert({ ...base, timezone: 'Europe/Atlantis' })).rejects.toMatchObject({ code: 'invalid_cron', message: expect.stringContaining('Europe/Atlantis') })
    await expect(t.errand.schedules.upsert({ ...base, task: 'no-such-task' })).rejects.toBeInstanceOf(UnknownTaskError)
    await expect(t.errand.schedules.upsert({ ...base, payload: { kind: 'hourly' } })).rejects.toMatchObject({ code: 'validation_failed' })
    await expect(t.errand.schedules.upsert({ ...base, catchUp: 'all' as never })).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.schedules.upsert({ ...base, overlap: 'wait' as never })).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.schedules.upsert({ ...base, options: { delay: '5m' } as never })).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.schedules.upsert({ ...base, every: '5m' } as never)).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.schedules.upsert({ ...base, key: '' })).rejects.toMatchObject({ code: 'invalid_option' })
    expect(await t.errand.schedules.list()).toEqual([])
    await expect(t.errand.schedules.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.schedules.list({ limit: 1.5 })).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.schedules.list({ after: 3 as never })).rejects.toMatchObject({ code: 'invalid_option' })
  })

  it('pause stops ticking; resume goes on from the next tick without making up the paused ones', async () => {
    await t.errand.schedules.upsert({ key: 'r', task: 'report', cron: '0 * * * *', payload: { kind: 'daily' } })
    expect(await t.errand.schedules.pause('r')).toMatchObject({ enabled: false, nextTickAt: null })
    clock.set('2030-01-01T05:00:30Z')
    expect(await t.errand.schedules.tick()).toMatchObject({ enqueued: 0, nextTickAt: null })
    clock.set('2030-01-01T05:10:00Z')
    expect(await t.errand.schedules.resume('r')).toMatchObject({ enabled: true, nextTickAt: T('06:00:00') })
    expect((await t.errand.schedules.resume('r')).nextTickAt).toEqual(T('06:00:00'))
    clock.set('2030-01-01T06:00:00.200Z')
    expect(await t.errand.schedules.tick()).toMatchObject({ enqueued: 1, nextTickAt: T('07:00:00') })
    expect((await t.errand.runs.list({ schedule: 'r' })).runs.map((r) => r.scheduledFor)).toEqual([T('06:00:00')])
    await expect(t.errand.schedules.pause('nope')).rejects.toBeInstanceOf(ScheduleNotFoundError)
    await expect(t.errand.schedules.resume('nope')).rejects.toMatchObject({ code: 'schedule_not_found' })
  })

  it('remove deletes the schedule and keeps its runs', async () => {
    await t.errand.schedules.upsert({ key: 'r', task: 'report', cron: '* * * * *', payload: { kind: 'daily' } })
    clock.set('2030-01-01T00:01:00Z')
    await t.errand.schedules.tick()
    expect(await t.errand.schedules.remove('r')).toBe(true)
    expect(await t.errand.schedules.remove('r')).toBe(false)
    expect(await t.errand.schedules.get('r')).toBeNull()
    clock.set('2030-01-01T00:02:00Z')
    expect((await t.errand.schedules.tick()).enqueued).toBe(0)
    expect((await t.errand.runs.list({ schedule: 'r' })).runs).toHaveLength(1)
  })

  it('trigger enqueues one run now, also while paused, and says which schedule it came from', async () => {
    await t.errand.schedules.upsert({ key: 'r', task: 'report', cron: '0 0 1 1 *', payload: { kind: 'weekly' } })
    await t.errand.schedules.pause('r')
    const handle = await t.errand.schedules.trigger('r')
    expect(handle).toMatchObject({ task: 'report', status: 'queued', created: true })
    expect(handle.run).toMatchObject({ scheduleKey: 'r', scheduledFor: T('00:00:00.500'), payload: { kind: 'weekly', to: 'ops@example.com' }, priority: 3 })
    const unscheduled = await t.errand.enqueue('report', { kind: 'daily' })
    expect(unscheduled.run).toMatchObject({ scheduleKey: null, scheduledFor: null })
    expect((await t.errand.runs.list({ schedule: 'r' })).runs.map((r) => r.id)).toEqual([handle.id])
    await expect(t.errand.schedules.trigger('nope')).rejects.toBeInstanceOf(ScheduleNotFoundError)
  })

  it('tells listeners about ticks, skipped ticks and missed ones', async () => {
    const seen: string[] = []
    const on = <E extends 'schedule.ticked' | 'schedule.skipped' | 'schedule.missed'>(event: E, describe: (e: ErrandEvents[E]) => string) =>
      t.errand.on(event, (e) => seen.push(`${event} ${describe(e)}`))
    on('schedule.ticked', (e) => `${e.key} ${e.scheduledFor.toISOString().slice(11, 16)} ${e.run.scheduleKey} ${e.run.status}`)
    on('schedule.skipped', (e) => `${e.key} ${e.scheduledFor.toISOString().slice(11, 16)} ${e.reason}`)
    on('schedule.missed', (e) => `${e.key} ${e.from.toISOString().slice(11, 16)}-${e.to.toISOString().slice(11, 16)}`)
    await t.errand.schedules.upsert({ key: 'r', task: 'report', cron: '0 * * * *', payload: { kind: 'daily' }, overlap: 'skip' })
    clock.set('2030-01-01T01:00:00Z')
    await t.errand.schedules.tick()
    clock.set('2030-01-01T02:00:00Z')
    await t.errand.schedules.tick()
    clock.set('2030-01-01T05:30:00Z')
    await t.errand.schedules.tick()
    expect(seen).toEqual(['schedule.ticked r 01:00 r queued', 'schedule.skipped r 02:00 overlap', 'schedule.skipped r 05:00 overlap', 'schedule.missed r 03:00-04:00'])
    expect(await t.errand.schedules.get('r')).toMatchObject({ lastTick: { at: T('05:00:00'), outcome: 'skipped' }, nextTickAt: T('06:00:00') })
  })

  it('schedules declared in code sync on migrate; a redeploy keeps their ticks and pause, a changed cron moves the next tick', async () => {
    const heartbeat = defineTask({ name: 'heartbeat', schedule: { cron: '*/10 * * * *' }, run: async () => 'ok' })
    const declared = [{ key: 'weekly-report', task: 'report', cron: '0 8 * * MON', payload: { kind: 'weekly' as const } }]
    const first = t.another({ schedules: declared })
    first.register({ report, heartbeat })
    await first.migrate()
    expect((await first.schedules.list()).map((s) => [s.key, s.task, s.nextTickAt?.toISOString()])).toEqual([
      ['heartbeat', 'heartbeat', '2030-01-01T00:10:00.000Z'],
      ['weekly-report', 'report', '2030-01-07T08:00:00.000Z'],
    ])
    clock.set('2030-01-01T00:10:00Z')
    await first.schedules.tick()
    await first.schedules.pause('weekly-report')
    const before = await first.schedules.list()

    clock.set('2030-01-01T00:12:00Z')
    const redeployed = t.another({ schedules: declared })
    redeployed.register({ report, heartbeat })
    await redeployed.migrate()
    expect(await redeployed.schedules.list()).toEqual(before)

    const changed = t.another({ schedules: [{ ...declared[0]!, cron: '0 8 * * TUE' }] })
    changed.register({ report, heartbeat: defineTask({ name: 'heartbeat', schedule: { cron: '*/10 * * * *' }, run: async () => 'ok' }) })
    await changed.migrate()
    const [heartbeatAfter, weeklyAfter] = await changed.schedules.list()
    expect(heartbeatAfter).toEqual(before[0])
    expect(weeklyAfter).toMatchObject({ cron: '0 8 * * TUE', enabled: false, nextTickAt: null })
    expect((await changed.schedules.resume('weekly-report')).nextTickAt).toEqual(T('08:00:00')) // 2030-01-01 is a Tuesday
  })

  it('declared schedules are checked at definition, and an unknown task fails migrate and worker start', async () => {
    expect(() => defineTask({ name: 'x', schedule: { cron: '* * *' }, run: () => 1 })).toThrow(InvalidCronError)
    expect(() => defineTask({ name: 'x', schedule: { cron: '* * * * *', timezone: 'Nowhere/City' }, run: () => 1 })).toThrow(/Nowhere\/City/)
    expect(() => defineTask({ name: 'x', schedule: [{ cron: '* * * * *' }, { cron: '@daily' }], run: () => 1 })).toThrow(/share the key/)
    expect(() => new Errand({ store: t.store.open(), schedules: [{ key: 'k', task: 'report', cron: '* * * * *', overlap: 'never' as never }] })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    )
    const orphan = t.another({ schedules: [{ key: 'k', task: 'not-registered', cron: '* * * * *' }] })
    await expect(orphan.migrate()).rejects.toBeInstanceOf(UnknownTaskError)
    await expect(orphan.worker().start()).rejects.toBeInstanceOf(UnknownTaskError)
    const badPayload = t.another({ schedules: [{ key: 'k', task: 'report', cron: '* * * * *', payload: { kind: 'never' } }] })
    badPayload.register({ report })
    await badPayload.enqueue('report', { kind: 'daily' }) // first use: a bad declaration does not break unrelated calls
    await expect(badPayload.migrate()).rejects.toMatchObject({ code: 'validation_failed' })
    expect(await t.errand.schedules.list()).toEqual([])
  })
})
