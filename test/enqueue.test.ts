import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTask, InvalidOptionError, TaskConflictError, UnknownTaskError, ValidationError } from '../src/index.js'
import { useErrand } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const email = defineTask({
  name: 'send-email',
  input: z.object({ to: z.string().email(), subject: z.string().min(1) }),
  retry: { attempts: 5, backoff: 'linear', initialDelay: '2s' },
  timeout: '30s',
  priority: 3,
  run: async (payload) => ({ messageId: `m-${payload.to}` }),
})

describe.each(storeKinds())('enqueue on $name', (kind) => {
  const t = useErrand(kind)

  it('stores a valid run, due now, with the task defaults', async () => {
    const { email: handle } = t.errand.register({ email })
    const run = await handle.enqueue({ to: 'a@example.com', subject: 'Hi' }, { metadata: { tenant: 'acme' } })
    expect(run).toMatchObject({ task: 'send-email', status: 'queued', created: true, reason: null })
    const stored = await t.errand.runs.get(run.id)
    expect(stored).toMatchObject({
      payload: { to: 'a@example.com', subject: 'Hi' },
      status: 'queued',
      attempt: 0,
      maxAttempts: 5,
      priority: 3,
      timeoutMs: 30_000,
      metadata: { tenant: 'acme' },
    })
    expect(await run.get()).toEqual(stored)
  })

  it('an invalid payload throws a ValidationError listing every issue, and writes nothing', async () => {
    const { email: handle } = t.errand.register({ email })
    const error = await handle.enqueue({ to: 'not-an-email', subject: '' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).code).toBe('validation_failed')
    expect((error as ValidationError).issues.map((i) => i.path.join('.')).sort()).toEqual(['subject', 'to'])
    expect((await t.errand.runs.list()).runs).toEqual([])
  })

  it('enqueues by name, and an unknown name throws', async () => {
    t.errand.register({ email })
    const run = await t.errand.enqueue('send-email', { to: 'b@example.com', subject: 'x' })
    expect(run.task).toBe('send-email')
    await expect(t.errand.enqueue('no-such-task', {})).rejects.toBeInstanceOf(UnknownTaskError)
    await expect(t.errand.enqueue('no-such-task', {})).rejects.toMatchObject({ code: 'unknown_task' })
  })

  it('delay and runAt make a scheduled run; both at once, or a bad value, is a clear error', async () => {
    const { email: handle } = t.errand.register({ email })
    const payload = { to: 'c@example.com', subject: 's' }
    const before = Date.now()
    const delayed = await handle.enqueue(payload, { delay: '1h30m' })
    expect(delayed.status).toBe('scheduled')
    expect(delayed.run.runAt.getTime() - before).toBeGreaterThanOrEqual(5_400_000 - 50)
    const at = await handle.enqueue(payload, { runAt: '2099-06-01T09:00:00.000Z' })
    expect(at.run.runAt.toISOString()).toBe('2099-06-01T09:00:00.000Z')
    const past = await handle.enqueue(payload, { runAt: new Date(Date.now() - 60_000) })
    expect(past.status).toBe('queued')
    await expect(handle.enqueue(payload, { delay: '5s', runAt: new Date() })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(handle.enqueue(payload, { delay: '5 minutes' })).rejects.toMatchObject({ code: 'invalid_duration' })
    await expect(handle.enqueue(payload, { delay: -5 })).rejects.toMatchObject({ code: 'invalid_duration' })
    await expect(handle.enqueue(payload, { runAt: 'next tuesday' })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(handle.enqueue(payload, { priority: 1.5 })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(handle.enqueue(payload, { maxAttempts: 0 })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(handle.enqueue(payload, { timeout: 0 })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(handle.enqueue(payload, { retry: { backoff: 'sometimes' as never } })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(handle.enqueue(payload, { delaySeconds: 5 } as never)).rejects.toThrow(/Unknown enqueue option "delaySeconds"/)
    expect((await t.errand.runs.list()).runs).toHaveLength(3)
  })

  it('per-run options override the task: priority, attempts, retry, timeout', async () => {
    const { email: handle } = t.errand.register({ email })
    const run = await handle.enqueue({ to: 'd@example.com', subject: 's' }, { priority: -1, maxAttempts: 2, timeout: false })
    expect(run.run).toMatchObject({ priority: -1, maxAttempts: 2, timeoutMs: null })
    const viaRetry = await handle.enqueue({ to: 'd@example.com', subject: 's' }, { retry: { attempts: 9 } })
    expect(viaRetry.run.maxAttempts).toBe(9)
  })

  it('an idempotency key returns the existing run, scoped to the task', async () => {
    const other = defineTask({ name: 'other', run: async () => null })
    const { email: handle, other: otherHandle } = t.errand.register({ email, other })
    const first = await handle.enqueue({ to: 'e@example.com', subject: 's' }, { idempotencyKey: 'welcome:1' })
    const second = await handle.enqueue({ to: 'changed@example.com', subject: 'changed' }, { idempotencyKey: 'welcome:1' })
    expect(second).toMatchObject({ id: first.id, created: false, reason: 'idempotent' })
    expect(second.run.payload).toEqual({ to: 'e@example.com', subject: 's' })
    const elsewhere = await otherHandle.enqueue({}, { idempotencyKey: 'welcome:1' })
    expect(elsewhere.created).toBe(true)
  })

  it('concurrent enqueues with one idempotency key create one run', async () => {
    const { email: handle } = t.errand.register({ email })
    const otherProcess = t.another()
    const { email: otherHandle } = otherProcess.register({ email })
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? handle : otherHandle).enqueue({ to: 'f@example.com', subject: 's' }, { idempotencyKey: 'once' })),
    )
    expect(results.filter((r) => r.created)).toHaveLength(1)
    expect(new Set(results.map((r) => r.id)).size).toBe(1)
  })

  it('enqueueMany validates every item first and writes all or nothing', async () => {
    const { email: handle } = t.errand.register({ email })
    const ok = { to: 'g@example.com', subject: 's' }
    await expect(handle.enqueueMany([ok, ok, { to: 'bad', subject: 's' }])).rejects.toBeInstanceOf(ValidationError)
    await expect(handle.enqueueMany([ok, { payload: ok, options: { delay: 'soon' } }])).rejects.toMatchObject({ code: 'invalid_duration' })
    expect((await t.errand.runs.list()).runs).toEqual([])
    const runs = await handle.enqueueMany([ok, { payload: ok, options: { priority: -9, idempotencyKey: 'k' } }])
    expect(runs.map((r) => r.run.priority)).toEqual([3, -9])
    expect((await t.errand.runs.list()).runs).toHaveLength(2)
  })

  it('refuses payloads that would not survive storage', async () => {
    const loose = defineTask({ name: 'loose', run: async () => null })
    const { loose: handle } = t.errand.register({ loose })
    await expect(handle.enqueue({ when: new Date() })).rejects.toMatchObject({ code: 'not_serializable' })
    await expect(handle.enqueue({ n: Number.NaN })).rejects.toMatchObject({ code: 'not_serializable' })
    await expect(handle.enqueue({ big: 1n })).rejects.toMatchObject({ code: 'not_serializable' })
    await expect(handle.enqueue('x', { metadata: { f: () => 1 } as never })).rejects.toMatchObject({ code: 'not_serializable' })
    const weird = await handle.enqueue({ text: '<script>alert(1)</script>\u0000\uD800', deep: { a: [{ b: null }] } })
    expect((await weird.get()).payload).toEqual({ text: '<script>alert(1)</script>\u0000\uD800', deep: { a: [{ b: null }] } })
    expect((await t.errand.runs.list()).runs).toHaveLength(1)
  })

  it('register is idempotent for one definition and refuses a second one under the same name', () => {
    const first = t.errand.register({ email })
    const again = t.errand.register({ email })
    expect(again.email).toBe(first.email)
    const impostor = defineTask({ name: 'send-email', run: async () => null })
    expect(() => t.errand.register({ impostor })).toThrow(TaskConflictError)
  })

  it('errand.task defines and registers in one call', async () => {
    const notify = t.errand.task('notify-user', { retry: { attempts: 3 } }, async (payload: { userId: string }) => payload.userId)
    const run = await notify.enqueue({ userId: 'u1' })
    expect(run.run).toMatchObject({ task: 'notify-user', maxAttempts: 3 })
  })

  it('defineTask rejects bad settings up front', () => {
    expect(() => defineTask({ name: '', run: async () => null })).toThrow(InvalidOptionError)
    expect(() => defineTask({ name: 'x', timeout: 'forever', run: async () => null })).toThrow(/Invalid duration/)
    expect(() => defineTask({ name: 'x', concurrency: 0, run: async () => null })).toThrow(/concurrency/)
    expect(() => defineTask({ name: 'x', retry: { attempts: -1 }, run: async () => null })).toThrow(/attempts/)
  })
})
