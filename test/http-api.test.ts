import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTask, type Errand } from '../src/index.js'
import { useHttp } from './support/http.js'
import { waitUntil } from './support/errand.js'
import { storeKinds } from './support/stores.js'

const greet = defineTask({ name: 'greet', input: z.object({ name: z.string() }), maxAttempts: 1, run: async (p) => `hello ${p.name}` })
const fail = defineTask({ name: 'fail', maxAttempts: 1, run: async () => { throw new Error('boom') } })
const stepped = defineTask({
  name: 'stepped',
  maxAttempts: 1,
  run: async (_payload: unknown, ctx) => {
    const fetched = await ctx.step.run('fetch', async () => ({ rows: 3 }))
    ctx.log('fetched <rows>', fetched)
    await ctx.progress(0.5)
    return fetched.rows
  },
})
const fast = { pollInterval: '50ms', maintenanceInterval: '100ms' } as const
const missing = '00000000-0000-7000-8000-000000000000'

function register(errand: Errand) {
  errand.register({ greet, fail, stepped })
}

describe.each(storeKinds())('HTTP API on $name', (kind) => {
  const t = useHttp(kind, register)

  it('lists tasks', async () => {
    const answer = await t.call('GET', '/api/tasks')
    expect(answer.status).toBe(200)
    expect(answer.body.tasks.map((task: { name: string }) => task.name)).toEqual(['fail', 'greet', 'stepped'])
    expect(answer.body.tasks[1]).toMatchObject({ name: 'greet', maxAttempts: 1, validatesInput: true })
  })

  it('enqueues with options, returns an idempotent run with 200, and refuses bad input without writing', async () => {
    const created = await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'ada' }, options: { delay: '1h', idempotencyKey: 'k1', metadata: { by: 'test' } } })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ created: true, run: { task: 'greet', status: 'scheduled', payload: { name: 'ada' }, metadata: { by: 'test' } } })
    const again = await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'bob' }, options: { idempotencyKey: 'k1' } })
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ created: false, reason: 'idempotent', run: { id: created.body.run.id } })
    const invalid = await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 42 } })
    expect(invalid.status).toBe(400)
    expect(invalid.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: ['name'] }] })
    expect((await t.call('POST', '/api/tasks/nope/runs', { payload: {} })).body.error.code).toBe('unknown_task')
    expect((await t.call('POST', '/api/tasks/nope/runs', { payload: {} })).status).toBe(404)
    expect((await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'x' }, options: { colour: 'red' } })).body.error.code).toBe('invalid_option')
    expect((await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'x' }, options: { delay: '-5m' } })).status).toBe(400)
    expect((await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'x' }, options: { tx: {} } })).body.error.code).toBe('validation_failed')
    expect((await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'x' }, extra: 1 })).status).toBe(400)
    expect((await t.call('GET', '/api/counts')).body.total).toBe(1)
  })

  it('lists runs newest first with filters and cursor paging, and refuses bad filters', async () => {
    const ids: string[] = []
    for (const name of ['a', 'b', 'c']) ids.push((await t.call('POST', '/api/tasks/greet/runs', { payload: { name } })).body.run.id)
    ids.push((await t.call('POST', '/api/tasks/fail/runs', { payload: null, options: { delay: '1h' } })).body.run.id)
    const first = await t.call('GET', '/api/runs?limit=2')
    expect(first.body.runs.map((run: { id: string }) => run.id)).toEqual([ids[3], ids[2]])
    const second = await t.call('GET', `/api/runs?limit=2&cursor=${first.body.nextCursor}`)
    expect(second.body.runs.map((run: { id: string }) => run.id)).toEqual([ids[1], ids[0]])
    expect(second.body.nextCursor).toBeNull()
    expect((await t.call('GET', '/api/runs?task=fail')).body.runs).toHaveLength(1)
    expect((await t.call('GET', '/api/runs?status=queued,scheduled')).body.runs).toHaveLength(4)
    expect((await t.call('GET', '/api/runs?status=scheduled&status=running')).body.runs).toHaveLength(1)
    const created = (await t.errand.runs.get(ids[1]!))!.createdAt.toISOString()
    expect((await t.call('GET', `/api/runs?task=greet&createdBefore=${created}`)).body.runs.map((run: { id: string }) => run.id)).toEqual([ids[0]])
    for (const bad of ['status=failed', 'limit=0', 'limit=5000', 'limit=ten', 'cursor=nope', 'createdFrom=yesterday', 'colour=red']) {
      const answer = await t.call('GET', `/api/runs?${bad}`)
      expect(answer.status, bad).toBe(400)
      expect(answer.body.error.code, bad).toMatch(/validation_failed|invalid_option/)
    }
  })

  it('gets a run with its attempts; steps and logs are null or lists', async () => {
    t.errand.worker(fast).start()
    const run = (await t.call('POST', '/api/tasks/fail/runs', { payload: { x: '<b>' } })).body.run
    const done = await t.call('GET', `/api/runs/${run.id}/wait?timeout=10s`)
    expect(done.body).toMatchObject({ done: true, run: { status: 'dead_lettered', error: { message: 'boom' } } })
    const detail = await t.call('GET', `/api/runs/${run.id}`)
    expect(detail.status).toBe(200)
    expect(detail.body.run).toMatchObject({ id: run.id, payload: { x: '<b>' } })
    expect(detail.body.attempts).toMatchObject([{ attempt: 1, outcome: 'failed', error: { message: 'boom' } }])
    expect(detail.body).toMatchObject({ steps: [], logs: [] })
    const withSteps = (await t.call('POST', '/api/tasks/stepped/runs', { payload: null })).body.run
    expect((await t.call('GET', `/api/runs/${withSteps.id}/wait?timeout=10s`)).body.run).toMatchObject({ status: 'completed', progress: 0.5, output: 3 })
    const stepped = await t.call('GET', `/api/runs/${withSteps.id}`)
    expect(stepped.body.steps).toMatchObject([{ name: 'fetch', kind: 'run', output: { rows: 3 } }])
    expect(stepped.body.logs).toMatchObject([{ level: 'info', message: 'fetched <rows>', data: { rows: 3 } }])
    expect((await t.call('GET', `/api/runs/${missing}`)).status).toBe(404)
    expect((await t.call('GET', `/api/runs/${missing}`)).body.error.code).toBe('run_not_found')
  })

  it('cancels, replays, and answers 409 for the wrong state and 404 for unknown runs', async () => {
    const run = (await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'x' }, options: { delay: '1h' } })).body.run
    expect((await t.call('POST', `/api/runs/${run.id}/replay`, {})).status).toBe(409)
    const cancelled = await t.call('POST', `/api/runs/${run.id}/cancel`, { reason: 'not needed' })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.run).toMatchObject({ status: 'cancelled', cancelReason: 'not needed' })
    const again = await t.call('POST', `/api/runs/${run.id}/cancel`, {})
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('invalid_transition')
    const replay = await t.call('POST', `/api/runs/${run.id}/replay`, { reason: 'again' })
    expect(replay.status).toBe(201)
    expect(replay.body.run).toMatchObject({ task: 'greet', status: 'queued', replayOf: run.id, replayReason: 'again' })
    expect((await t.call('POST', `/api/runs/${missing}/cancel`, {})).status).toBe(404)
    expect((await t.call('POST', `/api/runs/${missing}/replay`, {})).status).toBe(404)
    expect((await t.call('POST', `/api/runs/${run.id}/cancel`, { reason: 5 })).status).toBe(400)
  })

  it('waits: done when the run finishes, not done at the timeout', async () => {
    const run = (await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'w' } })).body.run
    const early = await t.call('GET', `/api/runs/${run.id}/wait?timeout=100ms`)
    expect(early.body).toMatchObject({ done: false, run: { status: 'queued' } })
    const waiting = t.call('GET', `/api/runs/${run.id}/wait?timeout=20s`)
    await t.errand.worker(fast).start()
    expect((await waiting).body).toMatchObject({ done: true, run: { status: 'completed', output: 'hello w' } })
    expect((await t.call('GET', `/api/runs/${missing}/wait?timeout=1s`)).status).toBe(404)
    expect((await t.call('GET', `/api/runs/${run.id}/wait?timeout=soon`)).status).toBe(400)
  })

  it('cancels and replays in bulk by filter, and never without one', async () => {
    for (let n = 0; n < 3; n++) await t.call('POST', '/api/tasks/fail/runs', { payload: n, options: { delay: '1h' } })
    await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'keep' }, options: { delay: '1h' } })
    const cancelled = await t.call('POST', '/api/runs/cancel', { filter: { task: 'fail' }, reason: 'bulk' })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body).toMatchObject({ skipped: 0, more: false })
    expect(cancelled.body.ids).toHaveLength(3)
    const replayed = await t.call('POST', '/api/runs/replay', { filter: { task: 'fail', status: ['cancelled'] }, max: 2 })
    expect(replayed.body).toMatchObject({ more: true })
    expect(replayed.body.ids).toHaveLength(2)
    expect((await t.call('GET', '/api/counts')).body.byTask.find((row: { task: string }) => row.task === 'greet').byStatus.scheduled).toBe(1)
    expect((await t.call('POST', '/api/runs/cancel', { filter: {} })).status).toBe(400)
    expect((await t.call('POST', '/api/runs/replay', {})).status).toBe(400)
    expect((await t.call('POST', '/api/runs/replay', { filter: { task: 'fail' }, max: 100_000 })).status).toBe(400)
  })

  it('reports counts and the last hour of activity', async () => {
    await t.errand.worker(fast).start()
    await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'x' } })
    await t.call('POST', '/api/tasks/fail/runs', { payload: null })
    await waitUntil(async () => (await t.call('GET', '/api/counts')).body.byStatus.dead_lettered === 1 && (await t.call('GET', '/api/counts')).body.byStatus.completed === 1)
    const activity = await t.call('GET', '/api/activity?since=10m&bucket=1m')
    expect(activity.status).toBe(200)
    expect(activity.body.buckets.length).toBeGreaterThanOrEqual(10)
    const sum = activity.body.buckets.reduce((n: number, b: { completed: number; deadLettered: number }) => n + b.completed + b.deadLettered, 0)
    expect(sum).toBe(2)
    expect((await t.call('GET', '/api/activity?since=30d')).status).toBe(400)
    expect((await t.call('GET', '/api/activity?bucket=nonsense')).status).toBe(400)
  })

  it('streams run events, including changes made by another process', async () => {
    const controller = new AbortController()
    const response = await fetch(new URL('api/events', t.url), { signal: controller.signal })
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/)
    const reader = response.body!.getReader()
    let text = ''
    const read = async (until: (text: string) => boolean) => {
      const deadline = Date.now() + 15_000
      while (!until(text)) {
        if (Date.now() > deadline) throw new Error(`no matching event in: ${text}`)
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        text += new TextDecoder().decode(value)
      }
    }
    try {
      await read((seen) => seen.includes('event: ready'))
      await new Promise((resolve) => setTimeout(resolve, 200))
      const elsewhere = t.another()
      elsewhere.register({ greet })
      const handle = await elsewhere.enqueue('greet', { name: 'remote' })
      await elsewhere.worker(fast).start()
      await read((seen) => seen.split('\n').some((line) => line.includes(handle.id) && line.includes('"status":"completed"')))
      expect(text).toMatch(/event: runs\ndata: \[/)
    } finally {
      controller.abort()
      await reader.cancel().catch(() => {})
    }
  })
})
