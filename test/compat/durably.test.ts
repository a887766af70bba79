/**
 * Every example of the durably seed (004), transcribed as written, run on each store.
 * `api.fetchUsers` and `db.upsertUser` stand in for the user's own services.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createDurably, defineJob, type Durably } from '../../src/compat/durably.js'
import { RunFailedError, ValidationError, WaitTimeoutError } from '../../src/index.js'
import { deferred, useErrand, waitUntil } from '../support/errand.js'
import { storeKinds } from '../support/stores.js'

const fast = { pollInterval: '50ms', maintenanceInterval: '100ms' } as const

// The user's services.
const calls = { fetch: 0, upsert: [] as string[] }
const api = {
  async fetchUsers(orgId: string) {
    calls.fetch++
    return [{ id: `${orgId}-a` }, { id: `${orgId}-b` }, { id: 'bad' }]
  },
}
const db = {
  async upsertUser(user: { id: string }) {
    calls.upsert.push(user.id)
    if (user.id === 'bad') throw new Error('constraint')
  },
}

// The seed's example job, as written.
const syncUsersJob = defineJob({
  name: 'sync-users',
  input: z.object({
    orgId: z.string(),
    force: z.boolean().optional(),
  }),
  output: z.object({
    syncedCount: z.number(),
    errors: z.array(z.string()),
  }),
  run: async (step, payload) => {
    const users = await step.run('fetch-users', async () => {
      return await api.fetchUsers(payload.orgId)
    })
    const errors: string[] = []
    for (const user of users) {
      await step.run(`sync-${user.id}`, async () => {
        try {
          await db.upsertUser(user)
        } catch (e) {
          errors.push(`Failed to sync ${user.id}`)
        }
      })
    }
    return {
      syncedCount: users.length - errors.length,
      errors,
    }
  },
})

const exampleJob = defineJob({
  name: 'example',
  input: z.object({ id: z.string() }),
  output: z.object({ result: z.number() }),
  run: async (step, payload) => {
    // payload is typed as { id: string }
    return { result: 42 } // Must match output schema
  },
})

describe.each(storeKinds())('durably facade on $name', (kind) => {
  const t = useErrand(kind)
  let durably: Durably
  const setup = async () => {
    calls.fetch = 0
    calls.upsert = []
    durably = createDurably({ errand: t.errand })
  }
  // As with errand's workers, a worker runs the jobs registered before it starts.
  const start = () => durably.start(fast)

  it('the sync-users example: register, trigger, trigger with an idempotency key', async () => {
    await setup()
    // Register with durably instance
    const { syncUsers } = durably.register({
      syncUsers: syncUsersJob,
    })
    await start()
    // Trigger the job
    const first = await syncUsers.trigger({ orgId: 'org_123' })
    // With idempotency
    const keyed = await syncUsers.trigger({ orgId: 'org_123' }, { idempotencyKey: 'sync-org_123-2024-01-01' })
    const again = await syncUsers.trigger({ orgId: 'org_123' }, { idempotencyKey: 'sync-org_123-2024-01-01' })
    expect(again.id).toBe(keyed.id)
    expect(first.jobName).toBe('sync-users')
    expect(first.status).toBe('pending')
    const done = await waitUntil(async () => {
      const run = await syncUsers.getRun(first.id)
      return run?.status === 'completed' ? run : null
    })
    expect(done.output).toEqual({ syncedCount: 2, errors: ['Failed to sync bad'] })
    // Visible through the native runs API.
    expect((await t.errand.runs.get(first.id))?.task).toBe('sync-users')
  })

  it('triggerAndWait returns { id, output }; with timeout in ms; throws if the run fails', async () => {
    await setup()
    const { job } = durably.register({ job: syncUsersJob })
    const failing = defineJob({ name: 'failing', input: z.object({}), run: async () => { throw new Error('boom') } })
    const { failing: f } = durably.register({ failing })
    const gate = deferred()
    const slow = defineJob({ name: 'slow', input: z.object({}), run: async () => gate.promise })
    const { slow: s } = durably.register({ slow })
    await start()
    const { id, output } = await job.triggerAndWait({ orgId: 'org_123' })
    expect(output).toEqual({ syncedCount: 2, errors: ['Failed to sync bad'] })
    expect((await job.getRun(id))?.status).toBe('completed')
    {
      // With timeout
      const { output } = await job.triggerAndWait(
        { orgId: 'org_123' },
        { timeout: 30000 }, // 30 seconds
      )
      expect(output.syncedCount).toBe(2)
    }
    const error = await f.triggerAndWait({}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RunFailedError)
    expect((error as Error).message).toContain('boom')
    // A run function's error fails the run at once, as in durably: no automatic retries.
    const [failed] = await f.getRuns({ status: 'failed' })
    expect(failed).toMatchObject({ status: 'failed', error: 'boom' })
    expect((await t.errand.runs.get(failed!.id))?.attempt).toBe(1)

    await expect(s.triggerAndWait({}, { timeout: 50 })).rejects.toBeInstanceOf(WaitTimeoutError)
    gate.resolve()
  })

  it('batchTrigger: simple and per-item options; all inputs validated before any run is created', async () => {
    await setup()
    const { job } = durably.register({ job: syncUsersJob })
    // Simple batch
    const runs = await job.batchTrigger([{ orgId: 'org_1' }, { orgId: 'org_2' }, { orgId: 'org_3' }])
    expect(runs).toHaveLength(3)
    // With per-item options
    const keyed = await job.batchTrigger([
      { input: { orgId: 'org_1' }, options: { idempotencyKey: 'key-1' } },
      { input: { orgId: 'org_2' }, options: { idempotencyKey: 'key-2' } },
    ])
    expect(keyed.map((r) => r.idempotencyKey)).toEqual(['key-1', 'key-2'])
    expect(keyed.map((r) => r.payload)).toEqual([{ orgId: 'org_1' }, { orgId: 'org_2' }])
    const before = (await t.errand.runs.list({ task: 'sync-users' })).runs.length
    await expect(job.batchTrigger([{ orgId: 'org_4' }, { orgId: 5 } as never])).rejects.toBeInstanceOf(ValidationError)
    expect((await t.errand.runs.list({ task: 'sync-users' })).runs.length).toBe(before)
    await expect(job.trigger({ wrong: 1 } as never)).rejects.toBeInstanceOf(ValidationError)
  })

  it('getRun only returns runs of this job; getRuns filters by status, limit, offset', async () => {
    await durably?.stop()
    durably = createDurably({ errand: t.errand })
    const { syncUsers, job } = durably.register({ syncUsers: syncUsersJob, job: exampleJob })
    const a = await syncUsers.trigger({ orgId: 'a' })
    const b = await syncUsers.trigger({ orgId: 'b' })
    const c = await syncUsers.trigger({ orgId: 'c' })
    const other = await job.trigger({ id: 'abc' }) // OK
    expect(await syncUsers.getRun(other.id)).toBeNull()
    expect((await job.getRun(other.id))?.id).toBe(other.id)
    expect((await syncUsers.getRuns()).map((r) => r.id)).toEqual([c.id, b.id, a.id])
    expect((await syncUsers.getRuns({ limit: 1, offset: 1 })).map((r) => r.id)).toEqual([b.id])
    expect(await syncUsers.getRuns({ status: 'completed' })).toEqual([])
    expect((await syncUsers.getRuns({ status: 'pending' })).length).toBe(3)
    // A run enqueued natively is a durably run too.
    const native = await t.errand.enqueue('sync-users', { orgId: 'n' })
    expect((await syncUsers.getRun(native.id))?.status).toBe('pending')
  })

  it('registering the same definition twice returns the same handle', async () => {
    await setup()
    const { job: handle1 } = durably.register({ job: syncUsersJob })
    const { job: handle2 } = durably.register({ job: syncUsersJob })
    expect(handle1 === handle2).toBe(true)
  })

  it('step.run resumes: a run interrupted after a step does not repeat it', async () => {
    await durably?.stop()
    durably = createDurably({ errand: t.errand })
    const gate = deferred()
    let firstStep = 0
    const resumable = defineJob({
      name: 'resumable',
      input: z.object({}),
      run: async (step) => {
        await step.run('first', () => ++firstStep)
        await step.run('second', () => gate.promise)
        return 'done'
      },
    })
    const { resumable: r } = durably.register({ resumable })
    const worker = t.errand.worker(fast)
    await worker.start()
    const run = await r.trigger({})
    await waitUntil(() => firstStep === 1)
    await worker.stop({ timeout: 50 }) // the attempt is released mid-run
    gate.resolve()
    await durably.start(fast)
    const done = await waitUntil(async () => ((await r.getRun(run.id))?.status === 'completed' ? true : null))
    expect(done).toBe(true)
    expect(firstStep).toBe(1)
  })

  it('concurrencyKey maps to the native concurrency key: one run of a key at a time', async () => {
    await setup()
    let running = 0
    let most = 0
    const keyed = defineJob({
      name: 'keyed',
      input: z.object({ n: z.number() }),
      run: async () => {
        most = Math.max(most, ++running)
        await new Promise((resolve) => setTimeout(resolve, 30))
        running--
      },
    })
    const { keyed: k } = durably.register({ keyed })
    await start()
    const runs = await k.batchTrigger([1, 2, 3].map((n) => ({ input: { n }, options: { concurrencyKey: 'org_1' } })))
    expect(runs[0]?.concurrencyKey).toBe('org_1')
    await waitUntil(async () => (await k.getRuns({ status: 'completed' })).length === 3)
    expect(most).toBe(1)
  })
})
