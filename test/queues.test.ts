import { describe, expect, it } from 'vitest'
import { defineTask, type Errand } from '../src/index.js'
import { useErrand, waitUntil } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const fast = { pollInterval: '30ms', maintenanceInterval: '100ms' } as const

/** Counts how many handlers run at once, overall and at the peak. */
function tracker() {
  const state = { running: 0, peak: 0, order: [] as number[] }
  const enter = (n: number) => {
    state.running++
    state.peak = Math.max(state.peak, state.running)
    state.order.push(n)
  }
  return { state, enter, leave: () => void state.running-- }
}

async function allFinished(errand: Errand, count: number): Promise<void> {
  await waitUntil(
    async () => (await errand.runs.list({ status: ['completed', 'dead_lettered'], limit: 1000 })).runs.length === count,
    30_000,
    `${count} runs to finish`,
  )
}

describe.each(storeKinds())('serial queues, concurrency keys and flags on $name', (kind) => {
  const t = useErrand(kind)

  it('a worker given queues runs only those queues, leaving other runs to other workers', async () => {
    const seen: string[] = []
    const job = defineTask({ name: 'job', run: async (payload: { tag: string }) => void seen.push(payload.tag) })
    const tasks = t.errand.register({ job })
    await tasks.job.enqueue({ tag: 'mail' }, { queue: 'mail' })
    await tasks.job.enqueue({ tag: 'plain' })
    await tasks.job.enqueue({ tag: 'billing' }, { queue: 'billing' })
    await t.errand.worker({ ...fast, queues: ['mail'] }).start()
    await waitUntil(() => seen.includes('mail'), 10_000, 'the mail run')
    await new Promise((resolve) => setTimeout(resolve, 200)) // several polls
    expect(seen).toEqual(['mail'])
    await t.errand.worker(fast).start()
    await allFinished(t.errand, 3)
    expect([...seen].sort()).toEqual(['billing', 'mail', 'plain'])
    expect(() => t.errand.worker({ queues: [] })).toThrow(/queues must be a non-empty array/)
  })

  it('a queue runs one at a time in order across workers; a retry wait holds the queue', async () => {
    const track = tracker()
    const step = defineTask({
      name: 'step',
      queue: 'ledger', // the task's default queue
      retry: { attempts: 3, backoff: 'fixed', initialDelay: '150ms', jitter: false },
      run: async (payload: { n: number }, ctx) => {
        track.enter(payload.n)
        await new Promise((resolve) => setTimeout(resolve, 10))
        track.leave()
        if (payload.n === 2 && ctx.attempt === 1) throw new Error('first try fails')
      },
    })
    const { step: handle } = t.errand.register({ step })
    const other = t.another()
    other.register({ step })
    await handle.enqueueMany([0, 1, 2, 3, 4, 5].map((n) => ({ n })))
    await Promise.all([t.errand.worker({ ...fast, concurrency: 4 }).start(), other.worker({ ...fast, concurrency: 4 }).start()])
    await allFinished(t.errand, 6)
    expect(track.state.peak).toBe(1)
    // Run 2 failed once and was retried before 3 started: nothing overtook it while it waited.
    expect(track.state.order).toEqual([0, 1, 2, 2, 3, 4, 5])
    expect((await t.errand.runs.list({ queue: 'ledger' })).runs).toHaveLength(6)
  })

  it('different queues run side by side, each in priority then time order', async () => {
    const order = new Map<string, number[]>()
    const work = t.errand.task('work', {}, async (payload: { q: string; n: number }) => {
      order.set(payload.q, [...(order.get(payload.q) ?? []), payload.n])
    })
    await work.enqueueMany([
      { payload: { q: 'a', n: 3 }, options: { queue: 'a', priority: 5 } },
      { payload: { q: 'a', n: 1 }, options: { queue: 'a', priority: -1 } },
      { payload: { q: 'b', n: 1 }, options: { queue: 'b' } },
      { payload: { q: 'a', n: 2 }, options: { queue: 'a' } },
      { payload: { q: 'b', n: 2 }, options: { queue: 'b' } },
    ])
    await t.errand.worker({ ...fast, concurrency: 5 }).start()
    await allFinished(t.errand, 5)
    expect(order.get('a')).toEqual([1, 2, 3])
    expect(order.get('b')).toEqual([1, 2])
  })

  it('a concurrency key runs at most its limit at once over several instances; none is dropped', async () => {
    const track = tracker()
    const call = defineTask({
      name: 'call-provider',
      run: async (payload: { n: number }) => {
        track.enter(payload.n)
        await new Promise((resolve) => setTimeout(resolve, 15))
        track.leave()
        return payload.n
      },
    })
    const instances = [t.errand, t.another(), t.another()]
    const handles = instances.map((errand) => errand.register({ call }).call)
    const runs = await handles[0]!.enqueueMany(
      Array.from({ length: 30 }, (_, n) => ({ payload: { n }, options: { concurrencyKey: 'provider:acme', concurrencyLimit: 2 } })),
    )
    await Promise.all(instances.map((errand) => errand.worker({ ...fast, concurrency: 5 }).start()))
    const outputs = await Promise.all(runs.map((run) => run.wait({ timeout: '30s' })))
    expect(outputs.map((run) => run.output)).toEqual(Array.from({ length: 30 }, (_, n) => n))
    expect(track.state.peak).toBe(2)
    expect(outputs[0]).toMatchObject({ concurrencyKey: 'provider:acme', concurrencyLimit: 2 })
  })

  it('a worker leaves runs with forbidden flags; a function is asked before every claim', async () => {
    const seen: string[] = []
    const job = t.errand.task('job', {}, async (payload: { name: string }) => void seen.push(payload.name))
    let forbidden = ['gpu']
    let asked = 0
    await job.enqueueMany([
      { payload: { name: 'plain' } },
      { payload: { name: 'gpu' }, options: { flags: ['gpu'] } },
      { payload: { name: 'slow' }, options: { flags: ['slow'] } },
    ])
    const worker = t.errand.worker({
      ...fast,
      forbiddenFlags: () => {
        asked++
        return forbidden
      },
    })
    await worker.start()
    await waitUntil(() => seen.length === 2, 10_000, 'the allowed runs')
    expect(seen.sort()).toEqual(['plain', 'slow'])
    expect(asked).toBeGreaterThan(0)
    forbidden = []
    await waitUntil(() => seen.length === 3, 10_000, 'the flagged run once allowed')
    const listed = t.another().worker({ forbiddenFlags: ['a', 'b'] })
    expect(listed).toBeDefined()
    expect(() => t.errand.worker({ forbiddenFlags: [''] })).toThrow(/forbiddenFlags\[0\]/)
  })

  it('a forbiddenFlags function that throws skips the claim and reports it', async () => {
    const job = t.errand.task('job', {}, async () => null)
    await job.enqueue({})
    const errors: Error[] = []
    t.errand.on('worker.error', (e) => errors.push(e.error))
    await t.errand
      .worker({
        ...fast,
        forbiddenFlags: () => {
          throw new Error('flag service down')
        },
      })
      .start()
    await waitUntil(() => errors.length > 0, 5_000, 'a worker error')
    expect(errors[0]?.message).toBe('flag service down')
    expect((await t.errand.runs.list({ status: 'queued' })).runs).toHaveLength(1)
  })
})
