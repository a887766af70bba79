import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTask, DuplicateStepError } from '../src/index.js'
import { nextEvent, useErrand } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const fast = { pollInterval: '50ms', maintenanceInterval: '100ms' } as const

describe.each(storeKinds())('durable steps on $name', (kind) => {
  const t = useErrand(kind)

  it('a completed step is not run again on a later attempt; its stored result comes back', async () => {
    const calls = { fetch: 0, save: 0 }
    const sync = defineTask({
      name: 'sync',
      retry: { attempts: 3, initialDelay: '10ms', jitter: false },
      run: async (_p, ctx) => {
        const users = await ctx.step.run('fetch-users', async () => {
          calls.fetch++
          return [{ id: 'u1' }, { id: 'u2' }]
        })
        for (const user of users) {
          await ctx.step.run(`save-${user.id}`, async () => {
            calls.save++
            if (ctx.attempt === 1 && user.id === 'u2') throw new Error('db hiccup')
            return user.id
          })
        }
        return { synced: users.length }
      },
    })
    const { sync: handle } = t.errand.register({ sync })
    await t.errand.worker(fast).start()
    const { output, run } = await handle.enqueueAndWait({}, { timeout: '10s' })
    expect(output).toEqual({ synced: 2 })
    expect(run.attempt).toBe(2)
    expect(calls).toEqual({ fetch: 1, save: 3 })
    const steps = await t.errand.runs.steps(run.id)
    expect(steps.map((s) => [s.name, s.attempt, s.output])).toEqual([
      ['fetch-users', 1, [{ id: 'u1' }, { id: 'u2' }]],
      ['save-u1', 1, 'u1'],
      ['save-u2', 2, 'u2'],
    ])
  })

  it('steps survive a timeout: the next attempt resumes after them', async () => {
    let firstStepCalls = 0
    const slow = defineTask({
      name: 'slow',
      timeout: '150ms',
      retry: { attempts: 2, initialDelay: '10ms' },
      run: async (_p, ctx) => {
        await ctx.step.run('first', async () => ++firstStepCalls)
        if (ctx.attempt === 1) await new Promise((resolve) => setTimeout(resolve, 1_000))
        return ctx.step.run('second', async () => 'done')
      },
    })
    const { slow: handle } = t.errand.register({ slow })
    await t.errand.worker(fast).start()
    const { output, run } = await handle.enqueueAndWait({}, { timeout: '10s' })
    expect(output).toBe('done')
    expect(firstStepCalls).toBe(1)
    expect((await t.errand.runs.attempts(run.id)).map((a) => [a.outcome, a.error?.code ?? null])).toEqual([
      ['failed', 'attempt_timeout'],
      ['completed', null],
    ])
  })

  it('a step name used twice in one run fails the attempt with a clear error', async () => {
    const loop = defineTask({
      name: 'loop',
      maxAttempts: 1,
      run: async (_p, ctx) => {
        for (const id of [1, 2]) await ctx.step.run('sync', async () => id)
      },
    })
    const { loop: handle } = t.errand.register({ loop })
    await t.errand.worker(fast).start()
    const error = await handle.enqueueAndWait({}, { timeout: '10s' }).catch((e: { run: { error: unknown } }) => e.run.error)
    expect(error).toMatchObject({ name: DuplicateStepError.name, code: 'duplicate_step' })
    expect((error as { message: string }).message).toMatch(/sync-\$\{id\}/)
  })

  it('a step result that is not JSON is a clear error, not silent corruption', async () => {
    const dates = defineTask({ name: 'dates', maxAttempts: 1, run: async (_p, ctx) => ctx.step.run('now', async () => new Date()) })
    const { dates: handle } = t.errand.register({ dates })
    await t.errand.worker(fast).start()
    await expect(handle.enqueueAndWait({}, { timeout: '10s' })).rejects.toMatchObject({
      run: { error: { code: 'not_serializable', message: expect.stringContaining('step "now"') } },
    })
    expect(await t.errand.runs.steps((await t.errand.runs.list()).runs[0]!.id)).toEqual([])
  })

  it('step.sleep frees the slot, keeps the attempt budget, and resumes after the completed steps', async () => {
    const order: string[] = []
    const drip = defineTask({
      name: 'drip',
      maxAttempts: 1,
      input: z.object({ user: z.string() }),
      run: async (p, ctx) => {
        await ctx.step.run('welcome', async () => void order.push(`welcome ${p.user}`))
        await ctx.step.sleep('wait-a-bit', '300ms')
        await ctx.step.run('follow-up', async () => void order.push(`follow-up ${p.user}`))
        return 'sent'
      },
    })
    const quick = defineTask({ name: 'quick', run: async () => void order.push('quick') })
    const handles = t.errand.register({ drip, quick })
    await t.errand.worker({ ...fast, concurrency: 1 }).start()
    const sleeping = nextEvent(t.errand, 'run.sleeping')
    const run = await handles.drip.enqueue({ user: 'ada' })
    const { wakeAt } = await sleeping
    expect((await run.get()).status).toBe('scheduled')
    await handles.quick.enqueueAndWait({}, { timeout: '10s' })
    expect(order).toEqual(['welcome ada', 'quick'])
    const done = await run.wait({ timeout: '10s' })
    expect(Date.now()).toBeGreaterThanOrEqual(wakeAt.getTime())
    expect(done).toMatchObject({ output: 'sent', status: 'completed' })
    expect(order).toEqual(['welcome ada', 'quick', 'follow-up ada'])
    expect((await t.errand.runs.attempts(run.id)).map((a) => a.outcome)).toEqual(['slept', 'completed'])
    expect((await t.errand.runs.steps(run.id)).map((s) => s.name)).toEqual(['welcome', 'wait-a-bit', 'follow-up'])
  })

  it('progress and logs are kept with the run', async () => {
    const report = defineTask({
      name: 'report',
      run: async (_p, ctx) => {
        ctx.log('starting', { rows: 3 })
        for (let done = 1; done <= 3; done++) await ctx.progress({ done, of: 3 })
        ctx.log.warn('row 2 was empty')
        ctx.log.error('cannot describe', { f: () => 1 })
        // A burst at the very end: its batch is not written yet when the handler returns.
        for (let line = 0; line < 300; line++) ctx.log.debug(`line ${line}`)
        return 'ok'
      },
    })
    const { report: handle } = t.errand.register({ report })
    const progress: unknown[] = []
    t.errand.on('run.progress', (e) => progress.push(e.progress))
    await t.errand.worker(fast).start()
    const { run } = await handle.enqueueAndWait({}, { timeout: '10s' })
    expect(run.progress).toEqual({ done: 3, of: 3 })
    expect(progress).toEqual([
      { done: 1, of: 3 },
      { done: 2, of: 3 },
      { done: 3, of: 3 },
    ])
    // The run's result is written after its logs: a finished run has all of them.
    const logs = await t.errand.runs.logs(run.id, { limit: 1000 })
    expect(logs.slice(0, 3).map((l) => [l.level, l.message, l.attempt])).toEqual([
      ['info', 'starting', 1],
      ['warn', 'row 2 was empty', 1],
      ['error', 'cannot describe', 1],
    ])
    expect(logs.slice(3).map((l) => l.message)).toEqual(Array.from({ length: 300 }, (_, line) => `line ${line}`))
    expect(logs[0]?.data).toEqual({ rows: 3 })
    expect(logs[2]?.data).toEqual({ unserializable: '[object Object]' })
  })
})
