/**
 * Every example of the Layeron Job seed (002), transcribed as written, run on each store.
 * `notifications.send`, `provider.syncAccount`, `deliverWebhook` and `webhooks.disableEndpoint`
 * are stand-ins; the webhook endpoint is a real local HTTP server answering 200, 500 and 410.
 * The errand clock can be moved forward (`offset`) to reach retries without waiting.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLayeron } from '../../src/compat/layeron/index.js'
import { RunNotFoundError } from '../../src/index.js'
import { mountSignup } from './layeron-signup.js'
import { useErrand, waitUntil } from '../support/errand.js'
import { storeKinds } from '../support/stores.js'

let offset = 0
const clock = { now: () => new Date(Date.now() + offset) }
const fast = { pollInterval: '30ms', maintenanceInterval: '50ms' } as const

const notifications = { sent: [] as unknown[], async send(message: unknown) { this.sent.push(message) } }
const provider = { calls: 0, async syncAccount(_id: string) { this.calls++; throw new Error('provider down') } }
const deliverWebhook = async (_payload: unknown) => { throw new Error('unreachable') }
const webhooks = { disabled: [] as string[], async disableEndpoint(id: string) { this.disabled.push(id) } }

// The webhook endpoint: /ok answers 200, /gone 410, /down 500 until `recovered`.
let server: Server
let base = ''
let recovered = false
const received: Array<{ path: string; eventId: string; deliveryId: string; body: unknown }> = []
beforeAll(async () => {
  server = createServer((req, res) => {
    let data = ''
    req.on('data', (chunk) => (data += chunk))
    req.on('end', () => {
      received.push({ path: req.url ?? '', eventId: String(req.headers['x-layeron-event-id']), deliveryId: String(req.headers['x-layeron-delivery-id']), body: JSON.parse(data) })
      res.statusCode = req.url === '/gone' ? 410 : req.url === '/down' && !recovered ? 500 : 200
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe.each(storeKinds())('Layeron facade on $name', (kind) => {
  const t = useErrand(kind, { clock })
  const reset = () => {
    offset = 0
    notifications.sent = []
    provider.calls = 0
    webhooks.disabled = []
    received.length = 0
    recovered = false
    return createLayeron({ errand: t.errand })
  }

  it('one-off jobs: the /signup route enqueues through app.use(jobs); the run is read later', async () => {
    const job = reset()
    const app = new Hono()
    const jobs = job({ name: "background", namespace: "app",})
    app.use(jobs)
    jobs.task("notify-user", { retry: { attempts: 5, backoff: "exponential", initialDelaySeconds: 5, maxDelaySeconds: 300, },}, async (payload, ctx) => { await notifications.send({ userId: payload.userId, template: payload.template, data: payload.data, })})
    mountSignup(app, jobs) // test/compat/layeron-signup.js: the route as written

    const signup = () => app.request('/signup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'u1', plan: 'pro' }) })
    const response = await signup()
    expect(response.status).toBe(200)
    const { queued, runId } = (await response.json()) as { queued: boolean; runId: string }
    expect(queued).toBe(true)
    expect(((await (await signup()).json()) as { runId: string }).runId).toBe(runId) // the idempotency key
    await jobs.start(fast)
    await waitUntil(async () => (await jobs.runs.get(runId))?.status === 'completed')
    const run = await jobs.runs.get(runId)
    expect(run).toMatchObject({ runId, taskName: 'notify-user', status: 'completed', maxAttempts: 5 })
    expect(notifications.sent).toEqual([{ userId: 'u1', template: 'welcome', data: { plan: 'pro' } }])
    expect((await t.errand.runs.get(runId))?.task).toBe('app/background/notify-user')
  })

  it('delayed jobs: delaySeconds and runAt', async () => {
    const jobs = reset()({ name: 'background', namespace: 'app' })
    jobs.task("send-reminder", { retry: { attempts: 3, },}, async (payload) => { await notifications.send({ userId: payload.userId, template: "reminder", })})
    const before = clock.now().getTime()
    const relative = await jobs.enqueue("send-reminder", { userId: "user_123",}, { delaySeconds: 3600,})
    const absolute = await jobs.enqueue("send-reminder", { userId: "user_123",}, { runAt: "2026-06-01T09:00:00.000Z",})
    expect(relative.status).toBe('scheduled')
    expect(relative.runAt.getTime() - before).toBeGreaterThanOrEqual(3_600_000 - 1000)
    expect(relative.runAt.getTime() - before).toBeLessThan(3_600_000 + 5000)
    expect(absolute.runAt.toISOString()).toBe('2026-06-01T09:00:00.000Z')
    await jobs.start(fast)
    offset = 3_601_000
    await waitUntil(async () => (await jobs.runs.get(relative.runId))?.status === 'completed')
    expect(notifications.sent).toContainEqual({ userId: 'user_123', template: 'reminder' })
  })

  /** Runs one failing attempt and returns the wait errand set before the next. */
  const firstRetryWait = async (jobs: ReturnType<ReturnType<typeof reset>>, task: string) => {
    const run = await jobs.enqueue(task, { accountId: 'acc_1' })
    await jobs.start(fast)
    const waiting = await waitUntil(async () => {
      const r = await t.errand.runs.get(run.runId)
      return r?.status === 'scheduled' && r.attempt === 1 ? r : null
    })
    await jobs.stop()
    return { run, wait: waiting.runAt.getTime() - waiting.updatedAt.getTime() }
  }

  it('retrying jobs: exponential, fixed and custom policies wait as written', async () => {
    const job = reset()
    const jobs = job({ name: 'background', namespace: 'app' })
    jobs.task("sync-provider", { retry: { attempts: 5, backoff: "exponential", initialDelaySeconds: 30, maxDelaySeconds: 900, },}, async (payload) => { await provider.syncAccount(payload.accountId)})
    jobs.task("send-notification", { retry: { attempts: 4, backoff: "fixed", initialDelaySeconds: 60, },}, async (payload) => { await notifications.send(payload); throw new Error('not yet') })
    jobs.task("deliver-webhook", { retry: { attempts: 8, backoff: { type: "custom", delaysSeconds: [10, 30, 120, 300, 900, 3600, 21600], }, },}, async (payload) => { await deliverWebhook(payload)})
    expect((await firstRetryWait(jobs, 'sync-provider')).wait).toBe(30_000)
    expect((await firstRetryWait(jobs, 'send-notification')).wait).toBe(60_000)
    expect((await firstRetryWait(jobs, 'deliver-webhook')).wait).toBe(10_000)
    expect(t.errand.describeTasks().find((task) => task.name === 'app/background/sync-provider')?.retry).toMatchObject({ attempts: 5, backoff: 'exponential', initialDelayMs: 30_000, maxDelayMs: 900_000, jitter: false })
  })

  it('managed runs: get, list, cancel, replay', async () => {
    const jobs = reset()({ name: 'background', namespace: 'app' })
    jobs.task("sync-provider", { retry: { attempts: 1 } }, async (payload) => { await provider.syncAccount(payload.accountId)})
    const a = await jobs.enqueue('sync-provider', { accountId: 'a' })
    const b = await jobs.enqueue('sync-provider', { accountId: 'b' }, { delaySeconds: 60 })
    const run = await jobs.runs.get(a.runId)
    expect(run?.payload).toEqual({ accountId: 'a' })
    const recent = await jobs.runs.list({ taskName: "sync-provider", limit: 25,})
    expect(recent.runs.map((r) => r.runId)).toEqual([b.runId, a.runId])
    await jobs.runs.cancel(b.runId)
    expect((await jobs.runs.get(b.runId))?.status).toBe('cancelled')
    await jobs.start(fast)
    await waitUntil(async () => (await jobs.runs.get(a.runId))?.status === 'dead_lettered')
    const replay = await jobs.runs.replay(a.runId, { reason: "provider recovered",})
    expect(replay).toMatchObject({ taskName: 'sync-provider', payload: { accountId: 'a' }, replayOf: a.runId, replayReason: 'provider recovered' })
    expect((await jobs.runs.list({ status: 'cancelled' })).runs.map((r) => r.runId)).toEqual([b.runId])
  })

  it('webhook delivery: 200 delivers, 410 disables the endpoint, 500 retries to dead_lettered; replay once recovered', async () => {
    const jobs = reset()({ name: 'webhooks', namespace: 'app' })
    jobs.task("deliver-webhook", { retry: { attempts: 8, backoff: { type: "custom", delaysSeconds: [10, 30, 120, 300, 900, 3600, 21600], }, },}, async (payload, ctx) => { const response = await fetch(payload.url, { method: "POST", headers: { "content-type": "application/json", "x-layeron-event-id": payload.eventId, "x-layeron-delivery-id": ctx.runId, }, body: JSON.stringify(payload.body), })
    if (response.status === 410) { await webhooks.disableEndpoint(payload.endpointId); return }
    if (!response.ok) { throw new Error(`webhook delivery failed: ${response.status}`) }})
    const deliver = (endpointId: string, path: string) =>
      jobs.enqueue("deliver-webhook", { endpointId, eventId: "evt_123", url: `${base}${path}`, body: { type: "invoice.paid", data: { invoiceId: "inv_123", }, },}, { idempotencyKey: `webhook:${endpointId}:evt_123`,})
    const ok = await deliver('ep_123', '/ok')
    expect((await deliver('ep_123', '/ok')).runId).toBe(ok.runId)
    const gone = await deliver('ep_gone', '/gone')
    const down = await deliver('ep_down', '/down')
    await jobs.start(fast)
    await waitUntil(async () => (await jobs.runs.get(ok.runId))?.status === 'completed')
    await waitUntil(async () => (await jobs.runs.get(gone.runId))?.status === 'completed')
    expect(webhooks.disabled).toEqual(['ep_gone'])
    expect(received.find((r) => r.path === '/ok')).toMatchObject({ eventId: 'evt_123', deliveryId: ok.runId, body: { type: 'invoice.paid', data: { invoiceId: 'inv_123' } } })
    // Move the clock past each retry's wait until the 8 attempts are spent.
    await waitUntil(async () => {
      const run = await jobs.runs.get(down.runId)
      // Only while the retry is not yet due: a due one may be claimed at any moment, and
      // moving the clock past a running attempt's lease would expire it.
      if (run?.status === 'scheduled' && run.runAt > clock.now()) offset += 22_000_000
      return run?.status === 'dead_lettered' ? run : null
    }, 20_000)
    expect(received.filter((r) => r.path === '/down')).toHaveLength(8)
    expect((await jobs.runs.get(down.runId))?.error).toBe('webhook delivery failed: 500')
    recovered = true
    const failed = await jobs.runs.list({ taskName: "deliver-webhook", status: "dead_lettered", limit: 50,})
    for (const run of failed.runs) { await jobs.runs.replay(run.runId, { reason: "endpoint recovered", })}
    expect(failed.runs.map((r) => r.runId)).toEqual([down.runId])
    const replays = await waitUntil(async () => {
      const { runs } = await jobs.runs.list({ taskName: 'deliver-webhook', status: 'completed' })
      return runs.find((r) => r.replayOf === down.runId) ?? null
    })
    expect(replays.replayReason).toBe('endpoint recovered')
  })

  it('namespaces keep two apps apart: same task name, separate runs, handlers and reads', async () => {
    const job = reset()
    const appA = job({ name: 'background', namespace: 'app-a' })
    const appB = job({ name: 'background', namespace: 'app-b' })
    const ran: string[] = []
    appA.task('notify-user', {}, async (_p, ctx) => void ran.push(`a:${ctx.runId}`))
    appB.task('notify-user', {}, async (_p, ctx) => void ran.push(`b:${ctx.runId}`))
    const a = await appA.enqueue('notify-user', {})
    expect(await appB.runs.get(a.runId)).toBeNull()
    expect((await appB.runs.list()).runs).toEqual([])
    await expect(appB.runs.cancel(a.runId)).rejects.toBeInstanceOf(RunNotFoundError)
    await appB.start(fast)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(ran).toEqual([])
    await appA.start(fast)
    await waitUntil(() => ran.length === 1)
    expect(ran).toEqual([`a:${a.runId}`])
  })
})
