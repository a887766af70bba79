import { describe, expect, it } from 'vitest'
import { defineTask, type RunChange } from '../src/index.js'
import { useErrand, waitUntil } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const echo = defineTask({
  name: 'echo',
  maxAttempts: 1,
  run: async (p: { n: number; fail?: boolean }) => {
    if (p.fail) throw new Error(`failed ${p.n}`)
    return p.n
  },
})
const idle = defineTask({ name: 'idle', run: async () => null })
const fast = { pollInterval: '50ms', maintenanceInterval: '100ms' } as const

describe.each(storeKinds())('run counts, activity, bulk actions and the change feed on $name', (kind) => {
  const t = useErrand(kind)

  it('counts by status, per task, with registered tasks listed at zero', async () => {
    const { echo: handle } = t.errand.register({ echo, idle })
    await handle.enqueue({ n: 1 })
    await handle.enqueue({ n: 2 }, { delay: '1h' })
    const counts = await t.errand.runs.counts()
    expect(counts.total).toBe(2)
    expect(counts.byStatus).toMatchObject({ queued: 1, scheduled: 1, running: 0, completed: 0 })
    expect(counts.byTask.map((row) => [row.task, row.total])).toEqual([
      ['echo', 2],
      ['idle', 0],
    ])
    expect(counts.byQueue).toEqual([])
  })

  it('keeps the counts equal to the runs through claims, finishes, failures and cancels', async () => {
    const { echo: handle } = t.errand.register({ echo, idle })
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const gated = t.errand.task('gated', {}, async () => gate)
    await handle.enqueueMany([...Array.from({ length: 10 }, (_, n) => ({ n })), ...[1, 2, 3].map((n) => ({ n, fail: true }))])
    await gated.enqueueMany([1, 2, 3, 4, 5])
    const later = await handle.enqueue({ n: 99 }, { delay: '1h' })
    await handle.enqueue({ n: 98 }, { delay: '1h' })
    await t.errand.runs.cancel(later.id)
    const actual = async () => {
      const byStatus: Record<string, number> = {}
      for (const run of (await t.errand.runs.list({ limit: 500 })).runs) byStatus[run.status] = (byStatus[run.status] ?? 0) + 1
      return Object.fromEntries(Object.entries(byStatus).sort(([a], [b]) => a.localeCompare(b)))
    }
    const counted = async () => Object.fromEntries(Object.entries((await t.errand.runs.counts()).byStatus).filter(([, n]) => n > 0))
    await t.errand.worker({ ...fast, concurrency: 3 }).start()
    const holding = { cancelled: 1, completed: 10, dead_lettered: 3, queued: 2, running: 3, scheduled: 1 }
    await waitUntil(async () => JSON.stringify(await actual()) === JSON.stringify(holding), 10_000, 'the others done, gated runs holding the slots')
    expect(await counted()).toEqual(holding)
    release()
    await waitUntil(async () => (await actual()).completed === 15, 10_000, 'gated runs done')
    expect(await counted()).toEqual({ completed: 15, dead_lettered: 3, scheduled: 1, cancelled: 1 })
    expect(await counted()).toEqual(await actual())
  })

  it('reports finished runs per minute over the last hour', async () => {
    const { echo: handle } = t.errand.register({ echo })
    const worker = t.errand.worker(fast)
    await worker.start()
    await handle.enqueueAndWait({ n: 1 }, { timeout: '10s' })
    await handle.enqueue({ n: 2, fail: true })
    await waitUntil(async () => (await t.errand.runs.counts()).byStatus.dead_lettered === 1)
    const activity = await t.errand.runs.activity()
    expect(activity.buckets.length).toBeGreaterThanOrEqual(60)
    expect(activity.bucketMs).toBe(60_000)
    const totals = activity.buckets.reduce((sum, b) => ({ completed: sum.completed + b.completed, dead: sum.dead + b.deadLettered }), { completed: 0, dead: 0 })
    expect(totals).toEqual({ completed: 1, dead: 1 })
    await expect(t.errand.runs.activity({ since: '30d' })).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.runs.activity({ bucket: '1s' })).rejects.toMatchObject({ code: 'invalid_option' })
  })

  it('cancels and replays by filter, never without one', async () => {
    const { echo: handle, idle: later } = t.errand.register({ echo, idle })
    const scheduled = []
    for (const n of [1, 2, 3]) scheduled.push(await later.enqueue({ n }, { delay: '1h' }))
    const kept = await handle.enqueue({ n: 9 }, { delay: '1h' })
    const cancelled = await t.errand.runs.cancelMany({ task: 'idle' }, { reason: 'cleanup', max: 2 })
    expect(cancelled).toMatchObject({ skipped: 0, more: true })
    expect(cancelled.ids).toEqual([scheduled[2]!.id, scheduled[1]!.id])
    const rest = await t.errand.runs.cancelMany({ task: 'idle', status: 'scheduled' })
    expect(rest).toMatchObject({ ids: [scheduled[0]!.id], more: false })
    expect((await t.errand.runs.get(kept.id))?.status).toBe('scheduled')
    const replayed = await t.errand.runs.replayMany({ task: 'idle', status: 'cancelled' }, { reason: 'again' })
    expect(replayed.ids).toHaveLength(3)
    const copy = await t.errand.runs.get(replayed.ids[0]!)
    expect(copy).toMatchObject({ task: 'idle', status: 'queued', replayOf: scheduled[2]!.id, replayReason: 'again' })
    // Only active runs can be cancelled and only final ones replayed: other statuses match nothing.
    expect(await t.errand.runs.replayMany({ task: 'idle', status: 'queued' })).toEqual({ ids: [], skipped: 0, more: false })
    await expect(t.errand.runs.cancelMany({})).rejects.toMatchObject({ code: 'invalid_option' })
    await expect(t.errand.runs.replayMany({ task: 'idle' }, { max: 0 })).rejects.toMatchObject({ code: 'invalid_option' })
  })

  it('lists runs created within a range', async () => {
    const { echo: handle } = t.errand.register({ echo })
    const first = await handle.enqueue({ n: 1 })
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = await handle.enqueue({ n: 2 })
    const from = second.run.createdAt
    expect((await t.errand.runs.list({ createdFrom: from })).runs.map((run) => run.id)).toEqual([second.id])
    expect((await t.errand.runs.list({ createdBefore: from.toISOString() })).runs.map((run) => run.id)).toEqual([first.id])
    await expect(t.errand.runs.list({ createdFrom: 'yesterday' })).rejects.toMatchObject({ code: 'invalid_option' })
  })

  it('watch reports changes made by another process on the same store', async () => {
    const { echo: handle } = t.errand.register({ echo })
    const elsewhere = t.another()
    elsewhere.register({ echo })
    const seen: RunChange[] = []
    const stop = t.errand.runs.watch((changes) => seen.push(...changes), { interval: '50ms' })
    try {
      await new Promise((resolve) => setTimeout(resolve, 150))
      const run = await elsewhere.enqueue('echo', { n: 5 })
      await waitUntil(() => seen.some((change) => change.id === run.id && change.status === 'queued'), 10_000, 'the enqueue')
      const worker = elsewhere.worker(fast)
      await worker.start()
      await waitUntil(() => seen.some((change) => change.id === run.id && change.status === 'completed'), 10_000, 'the completion')
      expect(seen.filter((change) => change.id === run.id && change.status === 'completed')).toHaveLength(1)
      expect(handle.name).toBe('echo')
    } finally {
      stop()
    }
  })
})
