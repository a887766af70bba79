/**
 * Schedules ticked by workers in real time: the scheduler beside each worker, the handler's
 * view of its tick, and overlap 'queue' end to end. Short every-second schedules.
 */
import { describe, expect, it } from 'vitest'
import { defineTask, type TaskContext } from '../src/index.js'
import { useErrand, waitUntil } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const fast = { pollInterval: '50ms', maintenanceInterval: '300ms' } as const

describe.each(storeKinds())('schedules run by workers on $name', (kind) => {
  const t = useErrand(kind)

  it('a worker ticks a schedule made after it started, and the handler knows its tick', async () => {
    const seen: Array<Pick<TaskContext['run'], 'scheduleKey' | 'scheduledFor' | 'createdAt'>> = []
    const beat = defineTask({
      name: 'beat',
      run: async (_payload, ctx) => {
        seen.push({ scheduleKey: ctx.run.scheduleKey, scheduledFor: ctx.run.scheduledFor, createdAt: ctx.run.createdAt })
      },
    })
    t.errand.register({ beat })
    await t.errand.worker(fast).start()
    await t.errand.schedules.upsert({ key: 'beat', task: 'beat', cron: '* * * * * *' })
    await waitUntil(() => seen.length >= 2, 10_000, 'two ticks')
    for (const run of seen) {
      expect(run.scheduleKey).toBe('beat')
      expect(run.scheduledFor?.getUTCMilliseconds()).toBe(0)
      // Enqueued at its tick, give or take the scheduler's wake-up.
      expect(run.createdAt.getTime() - (run.scheduledFor as Date).getTime()).toBeLessThan(3_000)
    }
    expect(new Set(seen.map((run) => run.scheduledFor?.getTime())).size).toBe(seen.length)
  })

  it("overlap 'queue' runs the ticks one at a time, in order, none dropped", async () => {
    const spans: Array<{ tick: number; start: number; end: number }> = []
    const slow = defineTask({
      name: 'slow',
      run: async (_payload, ctx) => {
        const start = Date.now()
        await new Promise((resolve) => setTimeout(resolve, 1_300))
        spans.push({ tick: (ctx.run.scheduledFor as Date).getTime(), start, end: Date.now() })
      },
    })
    t.errand.register({ slow })
    const ticked: string[] = []
    t.errand.on('schedule.ticked', ({ run }) => ticked.push(run.status))
    await t.errand.worker({ ...fast, concurrency: 4 }).start()
    await t.errand.schedules.upsert({ key: 'slow', task: 'slow', cron: '* * * * * *', overlap: 'queue' })
    await waitUntil(() => spans.length >= 3, 15_000, 'three runs')
    await t.errand.schedules.pause('slow')
    for (let i = 1; i < spans.length; i++) {
      const [previous, current] = [spans[i - 1]!, spans[i]!]
      expect(current.tick).toBe(previous.tick + 1_000) // in tick order, none skipped
      expect(current.start).toBeGreaterThanOrEqual(previous.end) // never two at once
    }
    // A tick that came while the previous run was unfinished got a held run, waiting its turn.
    expect(ticked).toContain('scheduled')
  })

  it('a stored schedule that no longer reads is reported and left alone, without a busy loop; the others tick', async () => {
    const fine = defineTask({ name: 'fine', run: async () => 'ok' })
    t.errand.register({ fine })
    await t.errand.schedules.upsert({ key: 'fine', task: 'fine', cron: '* * * * * *' })
    // As if written by a version of errand that read this expression: bypass the checks.
    const good = await t.errand.store.scheduleGet({ key: 'fine' })
    await t.errand.store.scheduleUpsert({
      schedule: { ...good!, key: 'broken', cron: 'not a cron', payloadJson: 'null', optionsJson: '{}', enabled: null, nextTickAt: new Date(0), fingerprint: 'x' },
      now: new Date(),
      onlyIfChanged: false,
    })
    const summary = await t.errand.schedules.tick()
    expect(summary.errors.map((error) => error.message)).toEqual([expect.stringContaining('Schedule "broken" could not be ticked')])
    const errors: string[] = []
    t.errand.on('worker.error', ({ error }) => errors.push(error.message))
    await t.errand.worker(fast).start()
    await waitUntil(async () => (await t.errand.runs.list({ schedule: 'fine', status: 'completed' })).runs.length >= 2, 10_000, 'the fine schedule')
    const passes = errors.length
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(errors.length - passes).toBeLessThanOrEqual(8) // about one pass per maintenanceInterval (300 ms), not hundreds
    expect(errors.every((message) => message.includes('"broken"'))).toBe(true)
    expect((await t.errand.schedules.get('broken'))?.nextTickAt).toEqual(new Date(0))
  })

  it('a worker with scheduler: false does not tick', async () => {
    const never = defineTask({ name: 'never', run: async () => 'ran' })
    t.errand.register({ never })
    await t.errand.worker({ ...fast, scheduler: false }).start()
    await t.errand.schedules.upsert({ key: 'never', task: 'never', cron: '* * * * * *' })
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect((await t.errand.runs.list({ schedule: 'never' })).runs).toEqual([])
    expect((await t.errand.schedules.tick()).enqueued).toBeGreaterThan(0)
  })

  it("a schedule's runs keep its serial queue, concurrency key and flags, and the task's default queue", async () => {
    const beat = defineTask({ name: 'grouped-beat', queue: 'beats', run: async (_payload, ctx) => ctx.run.queue })
    t.errand.register({ beat })
    const yearly = '0 0 1 1 *'
    await t.errand.schedules.upsert({ key: 'plain', task: 'grouped-beat', cron: yearly })
    const options = { queue: 'tenants', concurrencyKey: 'tenant-1', concurrencyLimit: 2, flags: ['slow'] }
    expect((await t.errand.schedules.upsert({ key: 'grouped', task: 'grouped-beat', cron: yearly, options })).options).toEqual(options)
    const plain = await t.errand.schedules.trigger('plain')
    const grouped = await t.errand.schedules.trigger('grouped')
    expect(await t.errand.runs.get(plain.id)).toMatchObject({ queue: 'beats', concurrencyKey: null, flags: [] })
    expect(await t.errand.runs.get(grouped.id)).toMatchObject({ queue: 'tenants', concurrencyKey: 'tenant-1', concurrencyLimit: 2, flags: ['slow'] })
    // A worker that forbids the flag takes only the plain run; another takes the grouped one
    // through its queue and key, as it would an enqueued run.
    await t.errand.worker({ ...fast, forbiddenFlags: ['slow'] }).start()
    expect((await plain.wait({ timeout: '10s' })).output).toBe('beats')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await t.errand.runs.get(grouped.id))?.status).toBe('queued')
    await t.errand.worker(fast).start()
    expect((await grouped.wait({ timeout: '10s' })).output).toBe('tenants')
  })

  it('refuses schedule run options that make no sense for a schedule, or together', async () => {
    const beat = defineTask({ name: 'beat', run: async () => {} })
    t.errand.register({ beat })
    const base = { key: 'bad', task: 'beat', cron: '* * * * *' }
    for (const options of [{ concurrencyLimit: 2 }, { jobKey: 'k' }, { idempotencyKey: 'k' }, { flags: 'slow' }, { queue: '' }]) {
      await expect(t.errand.schedules.upsert({ ...base, options: options as never }), JSON.stringify(options)).rejects.toMatchObject({ code: 'invalid_option' })
    }
    expect(await t.errand.schedules.list()).toEqual([])
  })
})
