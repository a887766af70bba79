import { describe, expect, it } from 'vitest'
import { DEFAULT_RETRY_POLICY } from '../../core/retry.js'
import { HELD_RUN_AT, type DueSchedule, type NewSchedule, type ScheduleTickWrite, type StoreDriver } from '../driver.js'
import { at, claimAll, insert, newRun, T0, type SuiteContext } from './fixtures.js'

const MINUTE = 60_000

/** A schedule to write, ticking every minute from T0 + 1 min unless told otherwise. */
function newSchedule(overrides: Partial<NewSchedule> = {}): NewSchedule {
  return {
    key: 'every-minute',
    task: 'task-a',
    cron: '* * * * *',
    timezone: 'UTC',
    payloadJson: JSON.stringify({ report: 'daily', note: 'é ✓' }),
    optionsJson: JSON.stringify({ priority: 2 }),
    runSpec: { priority: 2, maxAttempts: 3, retryPolicy: { ...DEFAULT_RETRY_POLICY }, timeoutMs: 60_000, metadata: { team: 'ops' } },
    catchUp: 'latest',
    overlap: 'allow',
    enabled: null,
    nextTickAt: at(MINUTE),
    fingerprint: 'f1',
    ...overrides,
  }
}

/** A stand-in for the runtime's planner: one run for the stored tick, then the next minute. */
function oneRunPerTick(schedule: DueSchedule): ScheduleTickWrite & { sawUnfinished: boolean } {
  const tick = schedule.nextTickAt as Date
  return {
    runs: [newRun({ task: schedule.task, scheduleKey: schedule.key, scheduledFor: tick, runAt: tick })],
    nextTickAt: new Date(tick.getTime() + MINUTE),
    lastTick: { at: tick, outcome: 'enqueued' },
    sawUnfinished: schedule.hasUnfinishedRun,
  }
}

type Planned = ReturnType<typeof oneRunPerTick>

function tick(driver: StoreDriver, now: Date, plan: (schedule: DueSchedule) => Planned | null = oneRunPerTick) {
  return driver.scheduleTickDue({ now, limit: 100, plan })
}

/** Schedules: upsert semantics, pause and resume, the tick pass, held runs, exactly one run per tick. */
export function schedulesSuite({ driver, another }: SuiteContext): void {
  describe('schedules', () => {
    it('creates a schedule and reads every field back', async () => {
      const created = await driver().scheduleUpsert({ schedule: newSchedule({ catchUp: { max: 3, within: '6h' } }), now: T0, onlyIfChanged: false })
      expect(created.outcome).toBe('created')
      const read = await driver().scheduleGet({ key: 'every-minute' })
      expect(read).toEqual(created.schedule)
      expect(read).toMatchObject({
        key: 'every-minute',
        task: 'task-a',
        cron: '* * * * *',
        timezone: 'UTC',
        payload: { report: 'daily', note: 'é ✓' },
        options: { priority: 2 },
        runSpec: { priority: 2, maxAttempts: 3, timeoutMs: 60_000, metadata: { team: 'ops' } },
        catchUp: { max: 3, within: '6h' },
        overlap: 'allow',
        enabled: true,
        nextTickAt: at(MINUTE),
        lastTickAt: null,
        lastTickOutcome: null,
        lastRunId: null,
        fingerprint: 'f1',
        createdAt: T0,
        updatedAt: T0,
      })
      expect(await driver().scheduleGet({ key: 'nope' })).toBeNull()
      await driver().scheduleUpsert({ schedule: newSchedule({ key: 'another' }), now: T0, onlyIfChanged: false })
      expect((await driver().scheduleList({})).map((s) => s.key)).toEqual(['another', 'every-minute'])
    })

    it('lists schedules a page at a time, by key', async () => {
      const keys = ['a', 'b', 'c', 'd', 'e']
      for (const key of [...keys].reverse()) await driver().scheduleUpsert({ schedule: newSchedule({ key }), now: T0, onlyIfChanged: false })
      const pages: string[][] = []
      let after: string | undefined
      for (;;) {
        const page = (await driver().scheduleList({ after, limit: 2 })).map((s) => s.key)
        if (page.length === 0) break
        pages.push(page)
        after = page[page.length - 1]
      }
      expect(pages).toEqual([['a', 'b'], ['c', 'd'], ['e']])
      expect((await driver().scheduleList({ after: 'b' })).map((s) => s.key)).toEqual(['c', 'd', 'e'])
      expect((await driver().scheduleList({ limit: 3 })).map((s) => s.key)).toEqual(['a', 'b', 'c'])
    })

    it('an unchanged declaration writes nothing; a changed one keeps its next tick unless the cron or zone changed', async () => {
      await driver().scheduleUpsert({ schedule: newSchedule(), now: T0, onlyIfChanged: true })
      const same = await driver().scheduleUpsert({ schedule: newSchedule({ nextTickAt: at(5 * MINUTE) }), now: at(1_000), onlyIfChanged: true })
      expect(same.outcome).toBe('unchanged')
      expect(same.schedule).toMatchObject({ nextTickAt: at(MINUTE), updatedAt: T0 })
      const payload = await driver().scheduleUpsert({
        schedule: newSchedule({ payloadJson: '{"report":"weekly"}', fingerprint: 'f2', nextTickAt: at(5 * MINUTE) }),
        now: at(2_000),
        onlyIfChanged: true,
      })
      expect(payload.outcome).toBe('updated')
      expect(payload.schedule).toMatchObject({ payload: { report: 'weekly' }, nextTickAt: at(MINUTE), updatedAt: at(2_000), createdAt: T0 })
      const cron = await driver().scheduleUpsert({
        schedule: newSchedule({ cron: '*/5 * * * *', fingerprint: 'f3', nextTickAt: at(5 * MINUTE) }),
        now: at(3_000),
        onlyIfChanged: true,
      })
      expect(cron.schedule).toMatchObject({ cron: '*/5 * * * *', nextTickAt: at(5 * MINUTE) })
      const zone = await driver().scheduleUpsert({
        schedule: newSchedule({ cron: '*/5 * * * *', timezone: 'Europe/Berlin', fingerprint: 'f4', nextTickAt: at(10 * MINUTE) }),
        now: at(4_000),
        onlyIfChanged: false,
      })
      expect(zone.schedule).toMatchObject({ timezone: 'Europe/Berlin', nextTickAt: at(10 * MINUTE) })
      const forced = await driver().scheduleUpsert({
        schedule: newSchedule({ cron: '*/5 * * * *', timezone: 'Europe/Berlin', fingerprint: 'f4', nextTickAt: at(99 * MINUTE) }),
        now: at(5_000),
        onlyIfChanged: false,
      })
      expect(forced).toMatchObject({ outcome: 'updated', schedule: { nextTickAt: at(10 * MINUTE), updatedAt: at(5_000) } })
    })

    it('pauses (no next tick, never due) and resumes from the given tick; enabled: null keeps the state', async () => {
      await driver().scheduleUpsert({ schedule: newSchedule(), now: T0, onlyIfChanged: false })
      const paused = await driver().scheduleSetEnabled({ key: 'every-minute', enabled: false, nextTickAt: null, now: at(1_000) })
      expect(paused).toMatchObject({ enabled: false, nextTickAt: null })
      expect(await tick(driver(), at(10 * MINUTE))).toEqual([])
      expect((await driver().schedulePeek({})).nextTickAt).toBeNull()
      const kept = await driver().scheduleUpsert({ schedule: newSchedule({ fingerprint: 'f2' }), now: at(2_000), onlyIfChanged: false })
      expect(kept.schedule).toMatchObject({ enabled: false, nextTickAt: null })
      const resumed = await driver().scheduleSetEnabled({ key: 'every-minute', enabled: true, nextTickAt: at(11 * MINUTE), now: at(10 * MINUTE) })
      expect(resumed).toMatchObject({ enabled: true, nextTickAt: at(11 * MINUTE) })
      const again = await driver().scheduleSetEnabled({ key: 'every-minute', enabled: true, nextTickAt: at(99 * MINUTE), now: at(10 * MINUTE) })
      expect(again?.nextTickAt).toEqual(at(11 * MINUTE))
      const disabled = await driver().scheduleUpsert({ schedule: newSchedule({ enabled: false, fingerprint: 'f3' }), now: at(3_000), onlyIfChanged: false })
      expect(disabled.schedule).toMatchObject({ enabled: false, nextTickAt: null })
      const enabled = await driver().scheduleUpsert({ schedule: newSchedule({ enabled: true, fingerprint: 'f3', nextTickAt: at(20 * MINUTE) }), now: at(4_000), onlyIfChanged: false })
      expect(enabled.schedule).toMatchObject({ enabled: true, nextTickAt: at(20 * MINUTE) })
      expect(await driver().scheduleSetEnabled({ key: 'nope', enabled: false, nextTickAt: null, now: T0 })).toBeNull()
    })

    it('deletes a schedule and leaves its runs', async () => {
      await driver().scheduleUpsert({ schedule: newSchedule(), now: T0, onlyIfChanged: false })
      const [result] = await tick(driver(), at(MINUTE))
      expect(await driver().scheduleDelete({ key: 'every-minute' })).toBe(true)
      expect(await driver().scheduleDelete({ key: 'every-minute' })).toBe(false)
      expect(await driver().scheduleGet({ key: 'every-minute' })).toBeNull()
      expect(await driver().runGet({ id: result?.runs[0]?.run.id as string })).toMatchObject({ scheduleKey: 'every-minute' })
    })

    it('ticks due schedules only: inserts the runs and advances the schedule in one pass', async () => {
      await driver().scheduleUpsert({ schedule: newSchedule(), now: T0, onlyIfChanged: false })
      await driver().scheduleUpsert({ schedule: newSchedule({ key: 'later', nextTickAt: at(30 * MINUTE) }), now: T0, onlyIfChanged: false })
      expect(await driver().schedulePeek({})).toEqual({ nextTickAt: at(MINUTE), heldRuns: false })
      expect(await tick(driver(), at(MINUTE - 1))).toEqual([])
      const results = await tick(driver(), at(MINUTE))
      expect(results.map((r) => r.schedule.key)).toEqual(['every-minute'])
      const [result] = results
      expect(result?.runs).toHaveLength(1)
      expect(result?.runs[0]).toMatchObject({ created: true, run: { task: 'task-a', scheduleKey: 'every-minute', scheduledFor: at(MINUTE) } })
      expect(await driver().scheduleGet({ key: 'every-minute' })).toMatchObject({
        nextTickAt: at(2 * MINUTE),
        lastTickAt: at(MINUTE),
        lastTickOutcome: 'enqueued',
        lastRunId: result?.runs[0]?.run.id,
      })
      expect(await tick(driver(), at(MINUTE + 30_000))).toEqual([])
      const page = await driver().runList({ limit: 10, schedule: 'every-minute' })
      expect(page.runs.map((r) => r.id)).toEqual([result?.runs[0]?.run.id])
      expect((await driver().runList({ limit: 10, schedule: 'later' })).runs).toEqual([])
    })

    it('tells the plan whether a run of the schedule is unfinished; a null plan leaves the schedule alone', async () => {
      await driver().scheduleUpsert({ schedule: newSchedule(), now: T0, onlyIfChanged: false })
      expect(await tick(driver(), at(MINUTE), () => null)).toEqual([])
      expect((await driver().scheduleGet({ key: 'every-minute' }))?.nextTickAt).toEqual(at(MINUTE))
      const [first] = await tick(driver(), at(MINUTE))
      expect(first?.write.sawUnfinished).toBe(false)
      const [second] = await tick(driver(), at(2 * MINUTE))
      expect(second?.write.sawUnfinished).toBe(true)
      const claimed = await claimAll(driver(), at(2 * MINUTE))
      await driver().runFinishMany({
        now: at(2 * MINUTE),
        results: claimed.map((r) => ({ id: r.id, attempt: r.attempt, workerId: 'w1', outcome: 'completed' as const, outputJson: '1' })),
      })
      const [third] = await tick(driver(), at(3 * MINUTE))
      expect(third?.write.sawUnfinished).toBe(false)
    })

    it('a second run for the same (schedule, tick) is refused and the first one returned', async () => {
      const tickAt = at(MINUTE)
      const [first] = await driver().runInsertMany({ runs: [newRun({ scheduleKey: 's', scheduledFor: tickAt })], now: T0 })
      const [second] = await driver().runInsertMany({ runs: [newRun({ scheduleKey: 's', scheduledFor: tickAt })], now: T0 })
      expect(first?.created).toBe(true)
      expect(second).toMatchObject({ created: false, reason: 'scheduled_tick', run: { id: first?.run.id } })
      const [otherTick] = await driver().runInsertMany({ runs: [newRun({ scheduleKey: 's', scheduledFor: at(2 * MINUTE) })], now: T0 })
      expect(otherTick?.created).toBe(true)
      const [unscheduled] = await insert(driver(), [newRun()])
      expect(await driver().runGet({ id: unscheduled as string })).toMatchObject({ scheduleKey: null, scheduledFor: null })
    })

    it('concurrent tick passes on separate connections enqueue each tick exactly once', async () => {
      for (let i = 0; i < 8; i++) await driver().scheduleUpsert({ schedule: newSchedule({ key: `s${i}` }), now: T0, onlyIfChanged: false })
      const drivers = [driver(), another(), another(), another()]
      for (let minute = 1; minute <= 3; minute++) {
        const passes = await Promise.all(Array.from({ length: 12 }, (_, i) => tick(drivers[i % drivers.length] as StoreDriver, at(minute * MINUTE))))
        const keys = passes.flat().map((result) => result.schedule.key)
        expect(keys.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `s${i}`))
      }
      const runs = (await driver().runList({ limit: 100 })).runs
      expect(runs).toHaveLength(24)
      expect(new Set(runs.map((r) => `${r.scheduleKey}@${r.scheduledFor?.toISOString()}`)).size).toBe(24)
    })

    it('releases the oldest held run of a schedule once nothing else of it is unfinished', async () => {
      const held = (key: string, minute: number) => newRun({ scheduleKey: key, scheduledFor: at(minute * MINUTE), status: 'scheduled', runAt: HELD_RUN_AT })
      const [blocker] = await insert(driver(), [newRun({ scheduleKey: 'q', scheduledFor: at(0) })])
      const [q1, q2, free1] = await insert(driver(), [held('q', 2), held('q', 1), held('free', 1)])
      expect((await driver().schedulePeek({})).heldRuns).toBe(true)
      expect(await claimAll(driver(), at(MINUTE))).toHaveLength(1)
      const released = await driver().scheduleReleaseHeld({ now: at(5 * MINUTE), limit: 100 })
      expect(released).toEqual([{ id: free1, scheduleKey: 'free' }])
      expect(await driver().runGet({ id: free1 as string })).toMatchObject({ status: 'queued', runAt: at(5 * MINUTE) })
      await driver().runCancel({ id: blocker as string, reason: null, now: at(6 * MINUTE) })
      expect(await driver().scheduleReleaseHeld({ now: at(7 * MINUTE), limit: 100 })).toEqual([{ id: q2, scheduleKey: 'q' }])
      expect(await driver().scheduleReleaseHeld({ now: at(8 * MINUTE), limit: 100 })).toEqual([])
      expect((await driver().runGet({ id: q1 as string }))?.status).toBe('scheduled')
      await driver().runCancel({ id: q2 as string, reason: null, now: at(9 * MINUTE) })
      expect(await driver().scheduleReleaseHeld({ now: at(9 * MINUTE), limit: 100 })).toEqual([{ id: q1, scheduleKey: 'q' }])
      expect((await driver().schedulePeek({})).heldRuns).toBe(false)
    })
  })
}
