/**
 * `prefetch`: a worker claims runs ahead of its free slots and holds them until a slot
 * frees. Held runs keep their leases, start in claim order, count against a task's own
 * concurrency limit, are dropped when cancelled, and are given back (without using an
 * attempt) when the worker stops.
 */
import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../src/index.js'
import { deferred, useErrand, waitUntil } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const fast = { pollInterval: '50ms', maintenanceInterval: '100ms' } as const

describe.each(storeKinds())('worker prefetch on $name', (kind) => {
  const t = useErrand(kind)

  it('claims ahead of its free slots, executes only `concurrency` at once, and starts held runs in order', async () => {
    const gate = deferred<void>()
    const started: number[] = []
    let executing = 0
    let maxExecuting = 0
    const handle = t.errand.task('slow', {}, async (n: number) => {
      started.push(n)
      maxExecuting = Math.max(maxExecuting, ++executing)
      await gate.promise
      executing--
    })
    await handle.enqueueMany(Array.from({ length: 20 }, (_, i) => i))
    await t.errand.worker({ ...fast, concurrency: 2, prefetch: 5 }).start()
    // Two execute and five wait in the worker: seven runs are claimed (running in the store).
    await waitUntil(async () => (await t.errand.runs.list({ status: ['running'], limit: 50 })).runs.length === 7, 10_000, 'seven runs claimed')
    expect(started).toHaveLength(2)
    gate.resolve()
    await waitUntil(async () => (await t.errand.runs.list({ status: ['completed'], limit: 50 })).runs.length === 20, 20_000, 'all completed')
    expect(maxExecuting).toBe(2)
    expect(started).toEqual([...started].sort((a, b) => a - b))
  })

  it('renews the leases of held runs, so none is taken back and none runs twice', async () => {
    const calls = new Map<number, number>()
    const handle = t.errand.task('slowish', {}, async (n: number) => {
      calls.set(n, (calls.get(n) ?? 0) + 1)
      await new Promise((resolve) => setTimeout(resolve, 150))
    })
    await handle.enqueueMany(Array.from({ length: 12 }, (_, i) => i))
    // The last held run waits about 12 x 150 ms = 1.8 s, past the 1 s lease, renewed every 300 ms.
    await t.errand.worker({ ...fast, concurrency: 1, prefetch: 11, lease: '1s', heartbeatInterval: '300ms' }).start()
    await waitUntil(async () => (await t.errand.runs.list({ status: ['completed'], limit: 50 })).runs.length === 12, 20_000, 'all completed')
    expect([...calls.values()]).toEqual(Array(12).fill(1))
    const runs = (await t.errand.runs.list({ limit: 50 })).runs
    expect(runs.map((run) => run.attempt)).toEqual(Array(12).fill(1))
  })

  it('counts held runs against a task limit', async () => {
    const gate = deferred<void>()
    let executing = 0
    let maxExecuting = 0
    const handle = t.errand.task('limited', { concurrency: 2 }, async () => {
      maxExecuting = Math.max(maxExecuting, ++executing)
      await gate.promise
      executing--
    })
    await handle.enqueueMany(Array.from({ length: 10 }, (_, i) => i))
    await t.errand.worker({ ...fast, concurrency: 5, prefetch: 10 }).start()
    await waitUntil(() => executing === 2, 10_000, 'two executing')
    await new Promise((resolve) => setTimeout(resolve, 300))
    // The task's limit bounds what this worker takes of it, held or executing.
    expect((await t.errand.runs.list({ status: ['running'], limit: 50 })).runs).toHaveLength(2)
    gate.resolve()
    await waitUntil(async () => (await t.errand.runs.list({ status: ['completed'], limit: 50 })).runs.length === 10, 20_000, 'all completed')
    expect(maxExecuting).toBe(2)
  })

  it('drops a held run that is cancelled: it never starts', async () => {
    const gate = deferred<void>()
    const started: string[] = []
    const handle = t.errand.task('gated', {}, async (_: number, ctx) => {
      started.push(ctx.runId)
      await gate.promise
    })
    const runs = await handle.enqueueMany([1, 2, 3])
    await t.errand.worker({ ...fast, concurrency: 1, prefetch: 2 }).start()
    await waitUntil(async () => (await t.errand.runs.list({ status: ['running'], limit: 50 })).runs.length === 3, 10_000, 'three claimed')
    const held = runs.find((run) => !started.includes(run.id))!
    await t.errand.runs.cancel(held.id)
    gate.resolve()
    await waitUntil(async () => (await t.errand.runs.list({ status: ['completed'], limit: 50 })).runs.length === 2, 10_000, 'others completed')
    expect(started).not.toContain(held.id)
    expect(await t.errand.runs.get(held.id)).toMatchObject({ status: 'cancelled' })
  })

  it('gives held runs back at stop, without using an attempt, for another worker to run', async () => {
    const gate = deferred<void>()
    const handle = t.errand.task('stopping', {}, async () => {
      await gate.promise
    })
    const runs = await handle.enqueueMany([1, 2, 3, 4])
    const worker = t.errand.worker({ ...fast, concurrency: 1, prefetch: 3 })
    await worker.start()
    await waitUntil(async () => (await t.errand.runs.list({ status: ['running'], limit: 50 })).runs.length === 4, 10_000, 'four claimed')
    const stopped = worker.stop({ timeout: '10s' })
    // The held runs go back while the executing one is still in its grace period.
    await waitUntil(async () => (await t.errand.runs.list({ status: ['queued'], limit: 50 })).runs.length === 3, 10_000, 'three given back')
    gate.resolve()
    await stopped
    const given = (await t.errand.runs.list({ status: ['queued'], limit: 50 })).runs
    expect(given).toHaveLength(3)
    for (const run of given) expect(run.maxAttempts - run.attempt).toBe(3) // the attempt was given back
    expect((await t.errand.runs.attempts(given[0]!.id)).map((attempt) => attempt.outcome)).toEqual(['released'])
    await t.errand.worker(fast).start()
    await Promise.all(runs.map((run) => run.wait({ timeout: '10s' })))
  })

  it('refuses a prefetch that is not a whole number', () => {
    expect(() => t.errand.worker({ prefetch: -1 })).toThrow(InvalidOptionError)
    expect(() => t.errand.worker({ prefetch: 1.5 })).toThrow(InvalidOptionError)
  })
})
