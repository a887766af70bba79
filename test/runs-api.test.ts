import { describe, expect, it } from 'vitest'
import { defineTask, InvalidTransitionError, RunNotFoundError } from '../src/index.js'
import { deferred, useErrand } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const echo = defineTask({ name: 'echo', maxAttempts: 1, run: async (p: { n: number; fail?: boolean }) => {
  if (p.fail) throw new Error(`failed ${p.n}`)
  return p.n
} })
const other = defineTask({ name: 'other', run: async () => null })
const fast = { pollInterval: '50ms', maintenanceInterval: '100ms' } as const
const missing = '00000000-0000-7000-8000-000000000000'

describe.each(storeKinds())('runs API on $name', (kind) => {
  const t = useErrand(kind)

  it('get returns the run or null', async () => {
    const { echo: handle } = t.errand.register({ echo })
    const run = await handle.enqueue({ n: 1 })
    expect(await t.errand.runs.get(run.id)).toMatchObject({ id: run.id, task: 'echo', status: 'queued', payload: { n: 1 } })
    expect(await t.errand.runs.get(missing)).toBeNull()
    expect(await t.errand.runs.get('not-even-a-uuid')).toBeNull()
  })

  it('list pages newest first and filters by task and status', async () => {
    const handles = t.errand.register({ echo, other })
    const ids: string[] = []
    for (let n = 0; n < 5; n++) ids.push((await handles.echo.enqueue({ n })).id)
    ids.push((await handles.other.enqueue({}, { delay: '1h' })).id)
    const first = await t.errand.runs.list({ limit: 4 })
    expect(first.runs.map((r) => r.id)).toEqual(ids.slice(2).reverse())
    const second = await t.errand.runs.list({ limit: 4, cursor: first.nextCursor! })
    expect(second.runs.map((r) => r.id)).toEqual(ids.slice(0, 2).reverse())
    expect(second.nextCursor).toBeNull()
    expect((await t.errand.runs.list({ task: 'other' })).runs.map((r) => r.id)).toEqual([ids[5]])
    expect((await t.errand.runs.list({ status: 'scheduled' })).runs.map((r) => r.id)).toEqual([ids[5]])
    expect((await t.errand.runs.list({ status: ['queued', 'scheduled'] })).runs).toHaveLength(6)
    await expect(t.errand.runs.list({ status: 'failed' as never })).rejects.toThrow(/Unknown status "failed"/)
    await expect(t.errand.runs.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.runs.list({ limit: 5000 })).rejects.toMatchObject({ code: 'invalid_option' })
  })

  it('cancel stops a queued or scheduled run; a final or unknown run is a clear error', async () => {
    const { echo: handle } = t.errand.register({ echo })
    const queued = await handle.enqueue({ n: 1 })
    const scheduled = await handle.enqueue({ n: 2 }, { delay: '1h' })
    const cancelledEvents: string[] = []
    t.errand.on('run.cancelled', (e) => cancelledEvents.push(e.run.id))
    expect(await t.errand.runs.cancel(queued.id, { reason: 'dup' })).toMatchObject({ status: 'cancelled', cancelReason: 'dup' })
    expect(await scheduled.cancel()).toMatchObject({ status: 'cancelled' })
    expect(cancelledEvents).toEqual([queued.id, scheduled.id])
    await expect(t.errand.runs.cancel(queued.id)).rejects.toBeInstanceOf(InvalidTransitionError)
    await expect(t.errand.runs.cancel(missing)).rejects.toBeInstanceOf(RunNotFoundError)
    await t.errand.worker(fast).start()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect((await t.errand.runs.get(queued.id))?.attempt).toBe(0)
  })

  it('replay makes a new run of the same task and payload, linked to the original', async () => {
    const { echo: handle } = t.errand.register({ echo })
    await t.errand.worker(fast).start()
    const failed = await handle.enqueue({ n: 9, fail: true }, { priority: 4, metadata: { source: 'test' } })
    await expect(failed.wait({ timeout: '10s' })).rejects.toMatchObject({ code: 'run_failed' })
    const replay = await t.errand.runs.replay(failed.id, { reason: 'provider recovered' })
    expect(replay.created).toBe(true)
    expect(replay.id).not.toBe(failed.id)
    expect(replay.run).toMatchObject({
      task: 'echo',
      payload: { n: 9, fail: true },
      priority: 4,
      metadata: { source: 'test' },
      replayOf: failed.id,
      replayReason: 'provider recovered',
      attempt: 0,
      maxAttempts: 1,
    })
    await expect(replay.wait({ timeout: '10s' })).rejects.toMatchObject({ code: 'run_failed' })
    const list = await t.errand.runs.list({ task: 'echo', status: 'dead_lettered' })
    expect(list.runs.map((r) => r.id)).toEqual([replay.id, failed.id])
  })

  it('replay refuses a run that is not finished, and an unknown run', async () => {
    const { echo: handle } = t.errand.register({ echo })
    const pending = await handle.enqueue({ n: 1 })
    await expect(t.errand.runs.replay(pending.id)).rejects.toBeInstanceOf(InvalidTransitionError)
    await expect(t.errand.runs.replay(missing)).rejects.toBeInstanceOf(RunNotFoundError)
  })

  it('wait resolves on completion, times out with a clear error, and works across instances', async () => {
    const gate = deferred()
    const gated = defineTask({ name: 'gated', run: async () => (await gate.promise, 'open') })
    const { gated: handle } = t.errand.register({ gated })
    await t.errand.worker(fast).start()
    const run = await handle.enqueue({})
    await expect(t.errand.runs.wait(run.id, { timeout: '100ms' })).rejects.toMatchObject({ code: 'wait_timeout' })
    const elsewhere = t.another().runs.wait(run.id, { timeout: '10s' })
    gate.resolve()
    expect(await elsewhere).toMatchObject({ status: 'completed', output: 'open' })
    await expect(t.errand.runs.wait(missing)).rejects.toBeInstanceOf(RunNotFoundError)
  })

  it('dispatch moves due scheduled runs to queued without a worker', async () => {
    let now = Date.now()
    const clocked = t.another({ clock: { now: () => new Date(now) } })
    const { echo: handle } = clocked.register({ echo })
    const soon = await handle.enqueue({ n: 1 }, { delay: '1m' })
    const later = await handle.enqueue({ n: 2 }, { delay: '1h' })
    expect(await clocked.dispatch()).toBe(0)
    now += 2 * 60_000
    expect(await clocked.dispatch()).toBe(1)
    expect((await soon.get()).status).toBe('queued')
    expect((await later.get()).status).toBe('scheduled')
  })

  it('attempts lists each attempt with its outcome and error, the running one included', async () => {
    const started = deferred()
    const gate = deferred()
    const twice = defineTask({
      name: 'twice',
      retry: { attempts: 2, initialDelay: '10ms' },
      run: async (_p, ctx) => {
        if (ctx.attempt === 1) throw new Error('first')
        started.resolve()
        await gate.promise
      },
    })
    const { twice: handle } = t.errand.register({ twice })
    const worker = t.errand.worker(fast)
    await worker.start()
    const run = await handle.enqueue({})
    await started.promise
    const during = await t.errand.runs.attempts(run.id)
    expect(during.map((a) => [a.attempt, a.outcome, a.error?.message ?? null, a.workerId])).toEqual([
      [1, 'failed', 'first', worker.id],
      [2, 'running', null, worker.id],
    ])
    gate.resolve()
    await run.wait({ timeout: '10s' })
    expect((await t.errand.runs.attempts(run.id)).map((a) => a.outcome)).toEqual(['failed', 'completed'])
  })
})
