/**
 * Every example of the Kumofire seed (000), transcribed as written, run on each store. The
 * seed's delayed example runs at 2026-03-27T01:00Z, so the errand clock starts the day before.
 */
import { describe, expect, it } from 'vitest'
import { createKumofire } from '../../src/compat/kumofire.js'
import { InvalidOptionError, UnknownTaskError } from '../../src/index.js'
import { useErrand, waitUntil } from '../support/errand.js'
import { storeKinds } from '../support/stores.js'

let now = new Date('2026-03-26T00:00:00.000Z')
const clock = { now: () => now }

describe.each(storeKinds())('Kumofire facade on $name', (kind) => {
  const t = useErrand(kind, { clock })
  const setup = () => {
    now = new Date('2026-03-26T00:00:00.000Z')
    const sent: Array<{ to: string; subject: string; body: string }> = []
    const { jobs, runtime } = createKumofire({
      errand: t.errand,
      handlers: {
        email: async (payload: { to: string; subject: string; body: string }) => {
          sent.push(payload)
        },
      },
    })
    return { jobs, runtime, sent }
  }

  it('create a job that should run immediately: scheduled, moved to queued at once, run by the runtime', async () => {
    const { jobs, runtime, sent } = setup()
    const { kumofireJobRunId } = await jobs.create({
      name: "email",
      payload: {
        to: "user@example.com",
        subject: "Welcome",
        body: "Hello",
      },
    })
    expect((await t.errand.runs.get(kumofireJobRunId))?.status).toBe('queued')
    await runtime.start({ pollInterval: '50ms' })
    await waitUntil(async () => (await t.errand.runs.get(kumofireJobRunId))?.status === 'completed')
    expect(sent).toEqual([{ to: 'user@example.com', subject: 'Welcome', body: 'Hello' }])
  })

  it('create a job that should run later: it stays scheduled until jobs.dispatch or runtime.dispatchScheduled', async () => {
    const { jobs, runtime } = setup()
    const { kumofireJobRunId } = await jobs.create({
      name: "email",
      payload: {
        to: "user@example.com",
        subject: "Reminder",
        body: "Hello again",
      },
      runAt: new Date("2026-03-27T01:00:00.000Z"),
    })
    const status = async () => (await t.errand.runs.get(kumofireJobRunId))?.status
    expect(await status()).toBe('scheduled')
    expect(await jobs.dispatch()).toBe(0)
    now = new Date('2026-03-27T01:00:00.000Z')
    expect(await status()).toBe('scheduled') // due, but nothing dispatched it yet
    expect(await jobs.dispatch()).toBe(1)
    expect(await status()).toBe('queued')

    const second = await jobs.create({ name: 'email', payload: { to: 'b', subject: 's', body: 'b' }, runAt: new Date('2026-03-28T00:00:00.000Z') })
    now = new Date('2026-03-28T00:00:00.000Z')
    expect(await runtime.dispatchScheduled()).toBe(1)
    expect((await t.errand.runs.get(second.kumofireJobRunId))?.status).toBe('queued')
  })

  it('runAt in the past is due now; maxAttempts overrides the attempts of this run', async () => {
    const { jobs } = setup()
    const { kumofireJobRunId } = await jobs.create({ name: 'email', payload: {}, runAt: new Date('2026-01-01T00:00:00.000Z'), maxAttempts: 7 })
    const run = await t.errand.runs.get(kumofireJobRunId)
    expect(run).toMatchObject({ status: 'queued', maxAttempts: 7 })
  })

  it('dedupeKey returns the existing run instead of creating a duplicate', async () => {
    const { jobs } = setup()
    const first = await jobs.create({ name: 'email', payload: { n: 1 }, dedupeKey: 'welcome-user-1' })
    const second = await jobs.create({ name: 'email', payload: { n: 2 }, dedupeKey: 'welcome-user-1' })
    expect(second.kumofireJobRunId).toBe(first.kumofireJobRunId)
    expect((await t.errand.runs.list({ task: 'email' })).runs).toHaveLength(1)
  })

  it('a name with no handler in the runtime handler map is an error; so is an unknown field', async () => {
    const { jobs } = setup()
    t.errand.task('native-only', {}, async () => {})
    await expect(jobs.create({ name: 'sms' as 'email', payload: {} })).rejects.toBeInstanceOf(UnknownTaskError)
    await expect(jobs.create({ name: 'native-only' as 'email', payload: {} })).rejects.toBeInstanceOf(UnknownTaskError)
    await expect(jobs.create({ name: 'email', payload: {}, delay: 5 } as never)).rejects.toBeInstanceOf(InvalidOptionError)
    expect((await t.errand.runs.list()).runs).toHaveLength(0)
  })
})
