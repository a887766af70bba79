import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTask, NonRetryableError, RetryAfterError, type TaskContext } from '../src/index.js'
import { deferred, nextEvent, useErrand, waitUntil } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const fast = { pollInterval: '50ms', maintenanceInterval: '100ms' } as const

describe.each(storeKinds())('worker on $name', (kind) => {
  const t = useErrand(kind)

  it('runs a handler with its payload and context, and stores the output', async () => {
    let seen: TaskContext | null = null
    const add = defineTask({
      name: 'add',
      input: z.object({ a: z.number(), b: z.number() }),
      run: async (p, ctx) => {
        seen = ctx
        return { sum: p.a + p.b }
      },
    })
    const { add: handle } = t.errand.register({ add })
    await t.errand.worker(fast).start()
    const { id, output, run } = await handle.enqueueAndWait({ a: 2, b: 3 }, { timeout: '10s' })
    expect(output).toEqual({ sum: 5 })
    expect(run).toMatchObject({ id, status: 'completed', attempt: 1, error: null })
    expect(seen).toMatchObject({ runId: id, task: 'add', attempt: 1, maxAttempts: 3 })
    expect((seen as unknown as TaskContext).signal.aborted).toBe(false)
    const attempts = await t.errand.runs.attempts(id)
    expect(attempts.map((a) => a.outcome)).toEqual(['completed'])
  })

  it('retries with the backoff, then dead-letters with the last error', async () => {
    const failing = defineTask({
      name: 'failing',
      retry: { attempts: 3, backoff: 'fixed', initialDelay: '30ms', jitter: false },
      run: async (_p, ctx) => {
        throw new Error(`boom ${ctx.attempt}`)
      },
    })
    const { failing: handle } = t.errand.register({ failing })
    const failures: Array<{ willRetry: boolean; attempt: number }> = []
    t.errand.on('run.failed', (e) => failures.push({ willRetry: e.willRetry, attempt: e.run.attempt }))
    const deadLettered = nextEvent(t.errand, 'run.dead_lettered')
    await t.errand.worker(fast).start()
    const run = await handle.enqueue({})
    const { error } = await deadLettered
    expect(error.message).toBe('boom 3')
    expect(failures).toEqual([
      { willRetry: true, attempt: 1 },
      { willRetry: true, attempt: 2 },
      { willRetry: false, attempt: 3 },
    ])
    const final = await t.errand.runs.get(run.id)
    expect(final).toMatchObject({ status: 'dead_lettered', attempt: 3, error: { message: 'boom 3' } })
    const attempts = await t.errand.runs.attempts(run.id)
    expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed'])
    expect(attempts[1]!.startedAt.getTime() - attempts[0]!.finishedAt!.getTime()).toBeGreaterThanOrEqual(25)
    await expect(run.wait({ timeout: '1s' })).rejects.toMatchObject({ code: 'run_failed', run: { id: run.id, status: 'dead_lettered' } })
  })

  it('a NonRetryableError ends the run at once; a RetryAfterError sets the delay', async () => {
    let calls = 0
    const picky = defineTask({
      name: 'picky',
      retry: { attempts: 5, initialDelay: '1h' },
      run: async (p: { mode: string }, ctx) => {
        calls++
        if (p.mode === 'never') throw new NonRetryableError('account deleted')
        if (ctx.attempt === 1) throw new RetryAfterError('rate limited', '40ms')
        return 'ok'
      },
    })
    const { picky: handle } = t.errand.register({ picky })
    await t.errand.worker(fast).start()
    const never = await handle.enqueue({ mode: 'never' })
    await expect(never.wait({ timeout: '10s' })).rejects.toMatchObject({ code: 'run_failed' })
    expect((await never.get()).attempt).toBe(1)
    const later = await handle.enqueueAndWait({ mode: 'later' }, { timeout: '10s' })
    expect(later.output).toBe('ok')
    expect(later.run.attempt).toBe(2)
    expect(calls).toBe(3)
  })

  it('records non-Error throws and rejections as errors', async () => {
    const odd = defineTask({
      name: 'odd',
      maxAttempts: 1,
      run: (p: { kind: string }) => {
        if (p.kind === 'undefined') throw undefined
        if (p.kind === 'string') throw 'just a string'
        if (p.kind === 'sync') throw new TypeError('sync throw')
        return Promise.reject({ reason: 'object' })
      },
    })
    const { odd: handle } = t.errand.register({ odd })
    await t.errand.worker(fast).start()
    const runs = await handle.enqueueMany([{ kind: 'undefined' }, { kind: 'string' }, { kind: 'sync' }, { kind: 'object' }])
    const errors = await Promise.all(runs.map((r) => r.wait({ timeout: '10s' }).catch((e: { run: { error: unknown } }) => e.run.error)))
    expect(errors).toEqual([
      { name: 'NonErrorThrown', message: 'Non-error thrown: undefined' },
      { name: 'NonErrorThrown', message: 'just a string' },
      expect.objectContaining({ name: 'TypeError', message: 'sync throw' }),
      { name: 'NonErrorThrown', message: 'Non-error thrown: {"reason":"object"}' },
    ])
  })

  it('aborts ctx.signal at the timeout and frees the slot even if the handler never settles', async () => {
    let abortReason: unknown = null
    const hang = defineTask({
      name: 'hang',
      timeout: '100ms',
      maxAttempts: 2,
      run: (p: { listen: boolean }, ctx) => {
        if (p.listen) ctx.signal.addEventListener('abort', () => (abortReason = ctx.signal.reason))
        return new Promise(() => {})
      },
    })
    const ok = defineTask({ name: 'ok', run: async () => 'done' })
    const { hang: hangHandle, ok: okHandle } = t.errand.register({ hang, ok })
    await t.errand.worker({ ...fast, concurrency: 1 }).start()
    const stuck = await hangHandle.enqueue({ listen: true }, { retry: { initialDelay: '10ms' } })
    await expect(stuck.wait({ timeout: '10s' })).rejects.toMatchObject({ run: { status: 'dead_lettered', error: { code: 'attempt_timeout' } } })
    expect(abortReason).toMatchObject({ code: 'attempt_timeout' })
    expect((await okHandle.enqueueAndWait({}, { timeout: '10s' })).output).toBe('done')
  })

  it('cancelling a running run aborts its signal and keeps it cancelled', async () => {
    const started = deferred()
    const aborted = deferred<unknown>()
    const slow = defineTask({
      name: 'slow',
      run: async (_p, ctx) => {
        started.resolve()
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
        aborted.resolve(ctx.signal.reason)
        return 'finished anyway'
      },
    })
    const { slow: handle } = t.errand.register({ slow })
    await t.errand.worker(fast).start()
    const run = await handle.enqueue({})
    await started.promise
    const cancelled = await t.errand.runs.cancel(run.id, { reason: 'user asked' })
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelReason: 'user asked' })
    expect(await aborted.promise).toMatchObject({ code: 'run_cancelled' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await t.errand.runs.get(run.id)).toMatchObject({ status: 'cancelled', output: null })
    await expect(run.wait({ timeout: '1s' })).rejects.toMatchObject({ code: 'run_cancelled' })
  })

  it('a run cancelled from another process is aborted at the next heartbeat', async () => {
    const started = deferred()
    const slow = defineTask({
      name: 'slow',
      run: async (_p, ctx) => {
        started.resolve()
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
        return ctx.signal.reason
      },
    })
    t.errand.register({ slow })
    const worker = t.errand.worker({ ...fast, lease: '3s', heartbeatInterval: '100ms' })
    await worker.start()
    const run = await t.errand.enqueue('slow', {})
    await started.promise
    await t.another().runs.cancel(run.id)
    await waitUntil(() => worker.running === 0, 5_000, 'the handler to be aborted')
    expect((await run.get()).status).toBe('cancelled')
  })

  it('never runs more than its concurrency, globally and per task', async () => {
    let running = 0
    let peak = 0
    let peakLimited = 0
    let runningLimited = 0
    const track = (limited: boolean) => async () => {
      running++
      if (limited) runningLimited++
      peak = Math.max(peak, running)
      peakLimited = Math.max(peakLimited, runningLimited)
      await new Promise((resolve) => setTimeout(resolve, 10))
      running--
      if (limited) runningLimited--
    }
    const free = defineTask({ name: 'free', run: track(false) })
    const limited = defineTask({ name: 'limited', concurrency: 2, run: track(true) })
    const handles = t.errand.register({ free, limited })
    await handles.free.enqueueMany(Array.from({ length: 40 }, () => ({})))
    await handles.limited.enqueueMany(Array.from({ length: 20 }, () => ({})))
    await t.errand.worker({ ...fast, concurrency: 5 }).start()
    await waitUntil(async () => (await t.errand.runs.list({ status: 'completed', limit: 100 })).runs.length === 60, 20_000, 'all runs')
    expect(peak).toBe(5)
    expect(peakLimited).toBe(2)
  })

  it('runs smaller priorities first', async () => {
    const order: number[] = []
    const ordered = defineTask({ name: 'ordered', run: async (p: { n: number }) => void order.push(p.n) })
    const { ordered: handle } = t.errand.register({ ordered })
    await handle.enqueueMany([5, 1, 3, -2, 4].map((n) => ({ payload: { n }, options: { priority: n } })))
    await t.errand.worker({ ...fast, concurrency: 1 }).start()
    await waitUntil(() => order.length === 5, 10_000, 'all runs')
    expect(order).toEqual([-2, 1, 3, 4, 5])
  })

  it('starts a delayed run when it is due', async () => {
    const started: number[] = []
    const later = defineTask({ name: 'later', run: async () => void started.push(Date.now()) })
    const { later: handle } = t.errand.register({ later })
    await t.errand.worker(fast).start()
    const enqueuedAt = Date.now()
    const run = await handle.enqueue({}, { delay: '300ms' })
    expect(run.status).toBe('scheduled')
    await run.wait({ timeout: '10s' })
    expect(started[0]! - enqueuedAt).toBeGreaterThanOrEqual(290)
  })

  it('fails an attempt whose output breaks the output schema or is not JSON', async () => {
    const typed = defineTask({
      name: 'typed',
      maxAttempts: 1,
      output: z.object({ id: z.string() }),
      run: async (p: { good: boolean }) => (p.good ? { id: 'x' } : ({ id: 42 } as never)),
    })
    const unserialisable = defineTask({ name: 'unserialisable', maxAttempts: 1, run: async () => ({ at: new Date() }) })
    const handles = t.errand.register({ typed, unserialisable })
    await t.errand.worker(fast).start()
    expect((await handles.typed.enqueueAndWait({ good: true }, { timeout: '10s' })).output).toEqual({ id: 'x' })
    await expect(handles.typed.enqueueAndWait({ good: false }, { timeout: '10s' })).rejects.toMatchObject({
      run: { status: 'dead_lettered', error: { code: 'validation_failed' } },
    })
    await expect(handles.unserialisable.enqueueAndWait({}, { timeout: '10s' })).rejects.toMatchObject({
      run: { error: { code: 'not_serializable' } },
    })
  })

  it('stop() lets runs in flight finish within the grace period', async () => {
    const release = deferred()
    const slow = defineTask({ name: 'slow', run: async () => (await release.promise, 'done') })
    const { slow: handle } = t.errand.register({ slow })
    const worker = t.errand.worker(fast)
    await worker.start()
    const run = await handle.enqueue({})
    await waitUntil(() => worker.running === 1, 5_000, 'start')
    const stopping = worker.stop({ timeout: '5s' })
    setTimeout(() => release.resolve(), 100)
    await stopping
    expect(await run.get()).toMatchObject({ status: 'completed', output: 'done' })
  })

  it('stop() aborts runs past the grace period and gives them back without using an attempt', async () => {
    let reason: unknown
    const stubborn = defineTask({
      name: 'stubborn',
      maxAttempts: 1,
      run: (_p, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject((reason = ctx.signal.reason)))),
    })
    const { stubborn: handle } = t.errand.register({ stubborn })
    const worker = t.errand.worker(fast)
    await worker.start()
    const run = await handle.enqueue({})
    await waitUntil(() => worker.running === 1, 5_000, 'start')
    const released = nextEvent(t.errand, 'run.released')
    const began = Date.now()
    await worker.stop({ timeout: '200ms' })
    // The grace was 200ms; stop must not wait for the handler (it never settles by itself).
    expect(Date.now() - began).toBeLessThan(5_000)
    await released
    expect(reason).toMatchObject({ code: 'worker_shutdown' })
    expect(await run.get()).toMatchObject({ status: 'queued', attempt: 1, maxAttempts: 2 })
    const attempts = await t.errand.runs.attempts(run.id)
    expect(attempts.map((a) => a.outcome)).toEqual(['released'])
  })

  it('reports a handler still running a second after its signal aborted, and not one that stopped on it', async () => {
    const stopped = deferred<void>()
    const heard = deferred<void>()
    const deaf = defineTask({ name: 'deaf', run: () => heard.promise })
    const listening = defineTask({
      name: 'listening',
      run: (_p, ctx) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => setTimeout(() => (resolve(), stopped.resolve()), 200))),
    })
    const { deaf: deafHandle, listening: listeningHandle } = t.errand.register({ deaf, listening })
    const errors: Error[] = []
    t.errand.on('worker.error', ({ error }) => errors.push(error))
    const worker = t.errand.worker(fast)
    await worker.start()
    const ignoring = await deafHandle.enqueue({})
    await listeningHandle.enqueue({})
    await waitUntil(() => worker.running === 2, 5_000, 'start')
    await worker.stop({ timeout: '50ms' })
    await stopped.promise
    await waitUntil(() => errors.length > 0, 5_000, 'the report')
    // The listening handler settled 200 ms after its abort; the deaf one is reported 1 s after it.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ name: 'HandlerIgnoredAbortError', code: 'handler_ignored_abort', runId: ignoring.id, attempt: 1 })
    expect(errors[0]?.message).toContain('Worker is shutting down')
    heard.resolve()
  })

  it("reports a handler that ignores its abort after the worker's abortIgnoredAfter, and leaves one that cleans up within it", async () => {
    const heard = deferred<void>()
    const cleanedUp = deferred<void>()
    const deaf = defineTask({ name: 'deaf', run: () => heard.promise })
    // Cleans up for 1.3 s on its signal: reported under the default 1 s, not under 2 s.
    const slowToStop = defineTask({
      name: 'slowToStop',
      run: (_p, ctx) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => setTimeout(() => (resolve(), cleanedUp.resolve()), 1_300))),
    })
    t.errand.register({ deaf, slowToStop })
    const errors: Error[] = []
    t.errand.on('worker.error', ({ error }) => errors.push(error))
    const worker = t.errand.worker({ ...fast, abortIgnoredAfter: '300ms' })
    await worker.start()
    const ignoring = await t.errand.enqueue('deaf', {})
    await waitUntil(() => worker.running === 1, 5_000, 'start')
    const stoppedAt = Date.now()
    await worker.stop({ timeout: '20ms' })
    await waitUntil(() => errors.length > 0, 5_000, 'the report')
    expect(Date.now() - stoppedAt).toBeLessThan(1_000)
    expect(errors[0]).toMatchObject({ code: 'handler_ignored_abort', runId: ignoring.id })
    expect(errors[0]?.message).toContain('300ms')
    heard.resolve()

    errors.length = 0
    const patient = t.errand.worker({ ...fast, abortIgnoredAfter: '2s' })
    await patient.start()
    await t.errand.enqueue('slowToStop', {})
    await waitUntil(() => patient.running === 1, 5_000, 'start')
    await patient.stop({ timeout: '20ms' })
    await cleanedUp.promise
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(errors).toEqual([])
    expect(() => t.errand.worker({ abortIgnoredAfter: '5ms' })).toThrow(/abortIgnoredAfter must be at least 10ms/)
  })

  it('takes back the runs of a worker that vanished, once its lease expires', async () => {
    const echo = defineTask({ name: 'echo', run: async (p: { n: number }) => p.n })
    t.errand.register({ echo })
    const run = await t.errand.enqueue('echo', { n: 7 })
    // A worker that claims the run and then dies: nothing renews its lease.
    const other = t.another()
    other.register({ echo })
    const [claimed] = await other.store.runClaim({ workerId: 'ghost', tasks: ['echo'], limit: 1, leaseMs: 1_000, now: new Date() })
    expect(claimed?.id).toBe(run.id)
    const rescued = nextEvent(t.errand, 'run.rescued')
    await t.errand.worker({ ...fast, maintenanceInterval: '100ms' }).start()
    expect(await rescued).toMatchObject({ runId: run.id, attempt: 1, status: 'queued' })
    const done = await run.wait({ timeout: '10s' })
    expect(done).toMatchObject({ output: 7, attempt: 2 })
    expect((await t.errand.runs.attempts(run.id)).map((a) => [a.outcome, a.workerId === 'ghost'])).toEqual([
      ['lease_expired', true],
      ['completed', false],
    ])
  })

  it('emits the life of a run as events, in order', async () => {
    const flaky = defineTask({
      name: 'flaky',
      retry: { attempts: 2, initialDelay: '10ms', jitter: false },
      run: async (_p, ctx) => {
        if (ctx.attempt === 1) throw new Error('first try fails')
        return 'ok'
      },
    })
    const { flaky: handle } = t.errand.register({ flaky })
    const log: string[] = []
    for (const event of ['run.enqueued', 'run.started', 'run.failed', 'run.completed'] as const) {
      t.errand.on(event, (e) => log.push(`${event}:${e.run.status}:${e.run.attempt}`))
    }
    await t.errand.worker(fast).start()
    await handle.enqueueAndWait({}, { timeout: '10s' })
    await waitUntil(() => log.length === 5, 2_000, 'events')
    expect(log).toEqual(['run.enqueued:queued:0', 'run.started:running:1', 'run.failed:scheduled:1', 'run.started:running:2', 'run.completed:completed:2'])
  })

  it('two workers on one store share the work and run each run once', async () => {
    const seen = new Map<string, number>()
    const count = defineTask({ name: 'count', run: async (_p, ctx) => void seen.set(ctx.runId, (seen.get(ctx.runId) ?? 0) + 1) })
    const { count: handle } = t.errand.register({ count })
    const second = t.another()
    second.register({ count })
    const runs = await handle.enqueueMany(Array.from({ length: 300 }, (_, n) => ({ n })))
    await Promise.all([t.errand.worker({ ...fast, concurrency: 4 }).start(), second.worker({ ...fast, concurrency: 4 }).start()])
    await Promise.all(runs.map((r) => r.wait({ timeout: '30s' })))
    expect(seen.size).toBe(300)
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
  })
})

describe.each(storeKinds())('worker scheduling on $name', (kind) => {
  const t = useErrand(kind)

  it('yields to the event loop between claims, even with synchronous handlers', async () => {
    let done = 0
    const noop = defineTask({ name: 'noop', run: () => void done++ })
    const { noop: handle } = t.errand.register({ noop })
    const runs = await handle.enqueueMany(Array.from({ length: 2_000 }, () => ({})))
    const worker = t.errand.worker({ concurrency: 1, pollInterval: '1s' })
    let doneWhenTimerRan = -1
    await worker.start()
    // A starved event loop would run this only after the whole backlog was drained.
    await new Promise<void>((resolve) => setTimeout(() => ((doneWhenTimerRan = done), resolve()), 0))
    await waitUntil(() => done === 2_000, 60_000, 'the backlog to drain')
    expect(doneWhenTimerRan).toBeLessThan(2_000)
    const completed = await Promise.all(runs.slice(0, 20).map((run) => run.get()))
    expect(completed.every((run) => run.status === 'completed' && run.attempt === 1)).toBe(true)
  }, 90_000)
})
