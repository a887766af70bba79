/**
 * The graphile-worker `addJob()` seed (003): its example as written, and each documented
 * option and batch-job behaviour, on each store.
 */
import { describe, expect, it } from 'vitest'
import { createGraphileWorker, type Task } from '../../src/compat/graphile-worker.js'
import { InvalidOptionError } from '../../src/index.js'
import { useErrand, waitUntil } from '../support/errand.js'
import { storeKinds } from '../support/stores.js'

describe.each(storeKinds())('graphile-worker facade on $name', (kind) => {
  const t = useErrand(kind)
  const make = (taskList: Record<string, Task>) => createGraphileWorker({ errand: t.errand, taskList })
  const fast = { pollInterval: 50, concurrency: 4 }

  it('the example: addJob("send_email", { to }) runs the task with (payload, helpers)', async () => {
    const seen: unknown[] = []
    const { addJob, run } = make({
      send_email: async (payload, helpers) => {
        seen.push([payload, helpers.job.task_identifier, helpers.job.attempts])
      },
    })
    const job = await addJob("send_email", { to: "someone@example.com" });
    expect(job).toMatchObject({
      task_identifier: 'send_email',
      payload: { to: 'someone@example.com' },
      queue_name: null,
      priority: 0,
      attempts: 0,
      max_attempts: 25,
      last_error: null,
      key: null,
      flags: null,
      locked_at: null,
      is_available: true,
    })
    expect(job.run_at).toBeInstanceOf(Date)
    const runner = await run(fast)
    await waitUntil(() => seen.length === 1)
    expect(seen).toEqual([[{ to: 'someone@example.com' }, 'send_email', 1]])
    await runner.stop()
    expect((await t.errand.runs.get(job.id))?.status).toBe('completed')
  })

  it('the TaskSpec options map one to one; the payload defaults to {}', async () => {
    const { addJob } = make({ t: async () => {} })
    const runAt = new Date(Date.now() + 60_000)
    const job = await addJob('t', undefined, { queueName: 'q', runAt, priority: -5, maxAttempts: 1, flags: ['a', 'b'] })
    expect(job).toMatchObject({ payload: {}, queue_name: 'q', priority: -5, max_attempts: 1, flags: { a: true, b: true } })
    expect(job.run_at.getTime()).toBe(runAt.getTime())
    await expect(addJob('t', {}, { queue: 'q' } as never)).rejects.toBeInstanceOf(InvalidOptionError)
  })

  it('a failed job is retried up to maxAttempts, its last_error kept', async () => {
    let calls = 0
    const { addJob, run } = make({ flaky: async () => { calls++; throw new Error(`nope ${calls}`) } })
    const job = await addJob('flaky', {}, { maxAttempts: 1 })
    const runner = await run(fast)
    await waitUntil(async () => (await t.errand.runs.get(job.id))?.status === 'dead_lettered')
    await runner.stop()
    expect(calls).toBe(1)
    expect((await t.errand.runs.get(job.id))?.error?.message).toBe('nope 1')
  })

  it('queueName: jobs of one queue run one at a time, in priority order (smaller first)', async () => {
    const order: number[] = []
    let running = 0
    let most = 0
    const { addJob, run } = make({
      step: async (payload) => {
        most = Math.max(most, ++running)
        order.push((payload as { n: number }).n)
        await new Promise((resolve) => setTimeout(resolve, 20))
        running--
      },
    })
    await addJob('step', { n: 1 }, { queueName: 'serial', priority: 5 })
    await addJob('step', { n: 2 }, { queueName: 'serial', priority: 1 })
    await addJob('step', { n: 3 }, { queueName: 'serial', priority: 3 })
    const runner = await run(fast)
    await waitUntil(() => order.length === 3)
    await runner.stop()
    expect(most).toBe(1)
    expect(order).toEqual([2, 3, 1])
  })

  it('jobKey: replace updates the waiting job, preserve_run_at keeps its time, unsafe_dedupe returns it; removeJob removes it', async () => {
    const { addJob, removeJob } = make({ remind: async () => {} })
    const later = new Date(Date.now() + 60_000)
    const first = await addJob('remind', { v: 1 }, { jobKey: 'k', runAt: later })
    const replaced = await addJob('remind', { v: 2 }, { jobKey: 'k', runAt: new Date(Date.now() + 120_000) })
    expect(replaced.id).toBe(first.id)
    expect(replaced.payload).toEqual({ v: 2 })
    const preserved = await addJob('remind', { v: 3 }, { jobKey: 'k', jobKeyMode: 'preserve_run_at', runAt: new Date(Date.now() + 999_000) })
    expect(preserved.run_at.getTime()).toBe(replaced.run_at.getTime())
    expect(preserved.payload).toEqual({ v: 3 })
    const deduped = await addJob('remind', { v: 4 }, { jobKey: 'k', jobKeyMode: 'unsafe_dedupe' })
    expect(deduped).toMatchObject({ id: first.id, payload: { v: 3 }, key: 'k' })
    const removed = await removeJob('k')
    expect(removed?.id).toBe(first.id)
    expect((await t.errand.runs.get(first.id))?.status).toBe('cancelled')
    expect(await removeJob('k')).toBeNull()
    const fresh = await addJob('remind', { v: 5 }, { jobKey: 'k' })
    expect(fresh.id).not.toBe(first.id)
  })

  it('flags: a runner with forbiddenFlags leaves flagged jobs alone', async () => {
    const ran: string[] = []
    const { addJob, run } = make({ sync: async (payload) => void ran.push((payload as { name: string }).name) })
    await addJob('sync', { name: 'flagged' }, { flags: ['provider:acme'] })
    await addJob('sync', { name: 'plain' })
    const runner = await run({ ...fast, forbiddenFlags: ['provider:acme'] })
    await waitUntil(() => ran.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 200))
    await runner.stop()
    expect(ran).toEqual(['plain'])
  })

  it('batch jobs: array payloads merge on replace; partial success retries only the failed items', async () => {
    const seen: unknown[][] = []
    let failB = true
    const { addJob, run } = make({
      notify: async (payload) => {
        const items = payload as Array<{ dm: string }>
        seen.push(items.map((i) => i.dm))
        return items.map(async (item) => {
          if (item.dm === 'b' && failB) {
            failB = false
            throw new Error('b failed')
          }
          return item.dm
        })
      },
    })
    const first = await addJob('notify', [{ dm: 'a' }], { jobKey: 'user-1', runAt: new Date(Date.now() + 100) })
    const merged = await addJob('notify', [{ dm: 'b' }], { jobKey: 'user-1', runAt: new Date(Date.now() + 100) })
    expect(merged.id).toBe(first.id)
    expect(merged.payload).toEqual([{ dm: 'a' }, { dm: 'b' }])
    const runner = await run(fast)
    const waiting = await waitUntil(async () => {
      const run = await t.errand.runs.get(first.id)
      return run?.status === 'scheduled' && run.attempt === 1 ? run : null
    })
    expect(waiting.payload).toEqual([{ dm: 'b' }])
    // graphile-worker's backoff: the first retry comes exp(1) s after the failure.
    expect(waiting.runAt.getTime() - waiting.updatedAt.getTime()).toBeGreaterThan(2_600)
    expect(waiting.runAt.getTime() - waiting.updatedAt.getTime()).toBeLessThan(2_800)
    await waitUntil(async () => (await t.errand.runs.get(first.id))?.status === 'completed', 10_000)
    await runner.stop()
    expect(seen).toEqual([['a', 'b'], ['b']])
  })
})
