import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { BatchItemsFailedError, defineTask, NonRetryableError, RetryAfterError } from '../src/index.js'
import { nextEvent, useErrand } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const fast = { pollInterval: '30ms', maintenanceInterval: '100ms' } as const
const item = z.object({ to: z.string(), failures: z.number().default(0) })

describe.each(storeKinds())('batch jobs on $name', (kind) => {
  const t = useErrand(kind)

  it('retries only the failed items, keeps the results of the others, and completes with all of them', async () => {
    const calls = new Map<string, number>()
    const send = defineTask({
      name: 'send',
      input: z.array(item),
      retry: { attempts: 4, backoff: 'fixed', initialDelay: '20ms', jitter: false },
      run: async (items) =>
        items.map(async ({ to, failures }) => {
          const call = (calls.get(to) ?? 0) + 1
          calls.set(to, call)
          if (call <= failures) throw new Error(`${to} is down`)
          return `sent:${to}:${call}`
        }),
    })
    const { send: handle } = t.errand.register({ send })
    const failed = nextEvent(t.errand, 'run.failed')
    await t.errand.worker(fast).start()
    const run = await handle.enqueue([{ to: 'a' }, { to: 'b', failures: 2 }, { to: 'c' }, { to: 'd', failures: 1 }])
    const { run: waiting, error, willRetry } = await failed
    expect(willRetry).toBe(true)
    expect(error).toMatchObject({ name: BatchItemsFailedError.name, code: 'batch_items_failed', message: expect.stringMatching(/^2 of 4 items failed: item 1: b is down; item 3: d is down/) })
    expect(waiting).toMatchObject({ payload: [{ to: 'b', failures: 2 }, { to: 'd', failures: 1 }], output: ['sent:a:1', 'sent:c:1'] })
    const done = await run.wait({ timeout: '10s' })
    expect(done).toMatchObject({ status: 'completed', attempt: 3, payload: [{ to: 'b', failures: 2 }] })
    // Each item's result, in the order the items succeeded; no item ran again after it succeeded.
    expect(done.output).toEqual(['sent:a:1', 'sent:c:1', 'sent:d:2', 'sent:b:3'])
    expect(Object.fromEntries(calls)).toEqual({ a: 1, b: 3, c: 1, d: 2 })
  })

  it('a non-retryable item dead-letters the run, with the failed items kept as its payload', async () => {
    const send = t.errand.task('send', { retry: { attempts: 5, initialDelay: '10ms' } }, async (items: Array<{ n: number }>) =>
      items.map(async ({ n }) => {
        if (n === 1) throw new NonRetryableError('address rejected')
        if (n === 2) throw new Error('temporary')
        return n
      }),
    )
    await t.errand.worker(fast).start()
    const run = await send.enqueue([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }])
    const error = await run.wait({ timeout: '10s' }).catch((e: { run: unknown }) => e.run)
    expect(error).toMatchObject({ status: 'dead_lettered', attempt: 1, payload: [{ n: 1 }, { n: 2 }], output: [0, 3] })
  })

  it('the longest RetryAfterError among the failed items sets the delay', async () => {
    const send = t.errand.task('send', { retry: { attempts: 2, initialDelay: '1h' } }, async (items: number[], ctx) =>
      items.map(async (n) => {
        if (ctx.attempt === 1 && n > 0) throw new RetryAfterError('busy', n === 1 ? '20ms' : '60ms')
        return n
      }),
    )
    await t.errand.worker(fast).start()
    const failed = nextEvent(t.errand, 'run.failed')
    const run = await send.enqueue([0, 1, 2])
    const { retryAt, run: waiting } = await failed
    expect(retryAt!.getTime() - waiting.updatedAt.getTime()).toBeGreaterThanOrEqual(55)
    expect((await run.wait({ timeout: '10s' })).output).toEqual([0, 1, 2])
  })

  it('when every item fails the run is retried whole, like any failure', async () => {
    const send = t.errand.task('send', { retry: { attempts: 2, initialDelay: '10ms', jitter: false } }, async (items: number[], ctx) =>
      items.map(async (n) => {
        if (ctx.attempt === 1) throw new Error(`no ${n}`)
        return n * 10
      }),
    )
    await t.errand.worker(fast).start()
    const run = await send.enqueue([1, 2])
    expect(await run.wait({ timeout: '10s' })).toMatchObject({ payload: [1, 2], output: [10, 20], attempt: 2 })
  })

  it('work enqueued under a job key joins the waiting batch', async () => {
    const seen: string[][] = []
    const digest = t.errand.task('digest', {}, async (messages: string[]) => void seen.push(messages))
    const first = await digest.enqueue(['hi'], { jobKey: 'user:1', delay: '300ms', jobKeyMode: 'preserve_run_at' })
    await digest.enqueue(['how are you?'], { jobKey: 'user:1', delay: '300ms', jobKeyMode: 'preserve_run_at' })
    await digest.enqueue(['still there?'], { jobKey: 'user:1', delay: '300ms', jobKeyMode: 'preserve_run_at' })
    await t.errand.worker(fast).start()
    await first.wait({ timeout: '10s' })
    expect(seen).toEqual([['hi', 'how are you?', 'still there?']])
  })
})
