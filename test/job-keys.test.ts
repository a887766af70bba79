import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTask, InvalidOptionError, UnknownTaskError, type Errand } from '../src/index.js'
import { deferred, useErrand, waitUntil } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const notify = defineTask({
  name: 'notify',
  input: z.union([z.object({ text: z.string() }), z.array(z.object({ text: z.string() }))]),
  run: async () => null,
})

describe.each(storeKinds())('job keys on $name', (kind) => {
  const t = useErrand(kind)

  it('says what every enqueue did: created, replaced, deduped', async () => {
    const { notify: handle } = t.errand.register({ notify })
    const first = await handle.enqueue({ text: 'a' }, { jobKey: 'user:1', delay: '1h' })
    expect(first).toMatchObject({ created: true, reason: null, status: 'scheduled' })
    const replaced = await handle.enqueue({ text: 'b' }, { jobKey: 'user:1', priority: 4 })
    expect(replaced).toMatchObject({ id: first.id, created: false, reason: 'replaced', status: 'queued' })
    expect(replaced.run).toMatchObject({ payload: { text: 'b' }, priority: 4, jobKey: 'user:1' })
    const kept = await handle.enqueue({ text: 'c' }, { jobKey: 'user:1', jobKeyMode: 'preserve_run_at', delay: '2h' })
    expect(kept).toMatchObject({ id: first.id, reason: 'replaced', status: 'queued', run: { payload: { text: 'c' } } })
    const deduped = await handle.enqueue({ text: 'd' }, { jobKey: 'user:1', jobKeyMode: 'unsafe_dedupe' })
    expect(deduped).toMatchObject({ id: first.id, created: false, reason: 'deduped', run: { payload: { text: 'c' } } })
    expect((await t.errand.runs.list()).runs).toHaveLength(1)
  })

  it('a replaced run that became due wakes a local worker at once', async () => {
    const started = deferred<unknown>()
    const echo = t.errand.task('echo', {}, async (payload: { v: number }) => started.resolve(payload))
    await t.errand.worker({ pollInterval: '10s' }).start()
    await echo.enqueue({ v: 1 }, { jobKey: 'k', delay: '1h' })
    await echo.enqueue({ v: 2 }, { jobKey: 'k' })
    expect(await started.promise).toEqual({ v: 2 })
  })

  it('new work for a key whose run is running makes a new run; the running one finishes its own', async () => {
    const gate = deferred()
    const seen: unknown[] = []
    const sync = t.errand.task('sync', {}, async (payload: { v: number }) => {
      seen.push(payload)
      if (payload.v === 1) await gate.promise
      return payload.v
    })
    await t.errand.worker({ pollInterval: '50ms' }).start()
    const first = await sync.enqueue({ v: 1 }, { jobKey: 'account:7' })
    await waitUntil(() => seen.length === 1, 10_000, 'the first run to start')
    const second = await sync.enqueue({ v: 2 }, { jobKey: 'account:7' })
    expect(second).toMatchObject({ created: true, reason: null })
    expect(second.id).not.toBe(first.id)
    gate.resolve()
    expect((await first.wait({ timeout: '10s' })).output).toBe(1)
    expect((await second.wait({ timeout: '10s' })).output).toBe(2)
  })

  it('50 concurrent enqueuers on one key, over several instances, leave exactly one pending run', async () => {
    const instances: Errand[] = [t.errand, t.another(), t.another(), t.another(), t.another()]
    const handles = instances.map((errand) => errand.register({ notify }).notify)
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (handles[i % handles.length] as (typeof handles)[number]).enqueue([{ text: `m${i}` }], { jobKey: 'digest:1' })),
    )
    expect(results.filter((r) => r.created)).toHaveLength(1)
    expect(results.filter((r) => !r.created).map((r) => r.reason)).toEqual(Array(49).fill('replaced'))
    const pending = (await t.errand.runs.list({ status: ['queued', 'scheduled'] })).runs
    expect(pending).toHaveLength(1)
    // A batch payload: every enqueuer's item is in the one run.
    expect((pending[0]?.payload as Array<{ text: string }>).map((item) => item.text).sort()).toEqual(
      Array.from({ length: 50 }, (_, i) => `m${i}`).sort(),
    )
  })

  it('cancelByJobKey removes the pending run and frees the key', async () => {
    const { notify: handle } = t.errand.register({ notify })
    const cancelledEvents: string[] = []
    t.errand.on('run.cancelled', (e) => cancelledEvents.push(e.run.id))
    expect(await t.errand.runs.cancelByJobKey('notify', 'k')).toEqual({ cancelled: false, run: null })
    const run = await handle.enqueue({ text: 'x' }, { jobKey: 'k', jobKeyMode: 'unsafe_dedupe', delay: '1h' })
    const removed = await t.errand.runs.cancelByJobKey(notify, 'k', { reason: 'user unsubscribed' })
    expect(removed).toMatchObject({ cancelled: true, run: { id: run.id, status: 'cancelled', cancelReason: 'user unsubscribed' } })
    expect(cancelledEvents).toEqual([run.id])
    const fresh = await handle.enqueue({ text: 'y' }, { jobKey: 'k', jobKeyMode: 'unsafe_dedupe' })
    expect(fresh.created).toBe(true)
    await expect(t.errand.runs.cancelByJobKey('no-such-task', 'k')).rejects.toBeInstanceOf(UnknownTaskError)
    await expect(t.errand.runs.cancelByJobKey('notify', '')).rejects.toBeInstanceOf(InvalidOptionError)
  })

  it('refuses options that would have no exact meaning', async () => {
    const { notify: handle } = t.errand.register({ notify })
    const payload = { text: 'x' }
    await expect(handle.enqueue(payload, { jobKeyMode: 'replace' })).rejects.toThrow(/jobKeyMode needs a jobKey/)
    await expect(handle.enqueue(payload, { jobKey: 'k', idempotencyKey: 'i' })).rejects.toThrow(/either idempotencyKey or jobKey/)
    await expect(handle.enqueue(payload, { jobKey: 'k', jobKeyMode: 'upsert' as never })).rejects.toThrow(/jobKeyMode must be one of/)
    await expect(handle.enqueue(payload, { jobKey: 'a\u0000b' })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(handle.enqueue(payload, { concurrencyLimit: 2 })).rejects.toThrow(/concurrencyLimit needs a concurrencyKey/)
    await expect(handle.enqueue(payload, { concurrencyKey: 'k', concurrencyLimit: 0 })).rejects.toThrow(/concurrencyLimit must be/)
    await expect(handle.enqueue(payload, { queue: '' })).rejects.toThrow(/queue must be/)
    await expect(handle.enqueue(payload, { flags: 'slow' as never })).rejects.toThrow(/flags must be an array/)
    await expect(handle.enqueue(payload, { flags: [''] })).rejects.toThrow(/flags\[0\]/)
    expect((await t.errand.runs.list()).runs).toEqual([])
  })
})
