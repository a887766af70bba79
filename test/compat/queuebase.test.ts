/**
 * Every example of the Queuebase seed (001), transcribed as written, run on each store: in
 * process, and from a client that reaches errand only through its HTTP API.
 */
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createHttpJobClient, createJobRouter, createQueuebase, job } from '../../src/compat/queuebase/index.js'
import { serve } from '../../src/http/index.js'
import { InvalidOptionError, ValidationError } from '../../src/index.js'
import { useErrand, waitUntil } from '../support/errand.js'
import { storeKinds } from '../support/stores.js'

const sent: unknown[] = []
const router = createJobRouter({
  sendEmail: job({
    input: z.object({ to: z.string().email(), subject: z.string(), body: z.string() }),
    handler: async ({ input }) => {
      sent.push(input)
      return { sent: true }
    },
  }),
  generateExport: job({
    input: z.object({ type: z.enum(['CSV', 'JSON']) }),
    handler: async ({ input, jobId }) => ({ url: `https://files.example.com/${jobId}.${input.type.toLowerCase()}` }),
    defaults: { retries: 2 },
  }),
  flaky: job({
    input: z.object({}),
    handler: async ({ attempt }) => {
      throw new Error(`failed attempt ${attempt}`)
    },
    defaults: { retries: 2, backoff: 'linear', backoffDelay: 100, concurrency: 2 },
  }),
})

/** The seed's polling example, as written, resolving with what it would show. */
function pollExport(getStatus: () => Promise<any>): Promise<string> {
  return new Promise((resolve) => {
    const poll = setInterval(async () => {
      const status = await getStatus();
      if (status.status === "completed") {
        clearInterval(poll);
        const downloadUrl = (status.result as { url: string }).url;
        // show download link
        resolve(downloadUrl)
      }
      if (status.status === "failed") {
        clearInterval(poll);
        // show error: status.error
        resolve(`error: ${status.error}`)
      }
    }, 1000);
  })
}

describe.each(storeKinds())('Queuebase facade on $name', (kind) => {
  const t = useErrand(kind)

  it('enqueue with delay, retries, backoff, backoffDelay: a pending job, attempts = retries + 1', async () => {
    const { jobClient } = createQueuebase({ errand: t.errand, router })
    const before = Date.now()
    const { jobId, getStatus } = await jobClient.sendEmail.enqueue(
      { to: "user@example.com", subject: "Hi", body: "Hello" },
      {
        delay: "5m",
        retries: 5,
        backoff: "exponential",
        backoffDelay: 2000,
      },
    );
    const status = await getStatus()
    expect(status).toMatchObject({ publicId: jobId, name: 'sendEmail', status: 'pending', attempt: 0, maxAttempts: 6, startedAt: null, completedAt: null, result: null, error: null })
    const run = await t.errand.runs.get(jobId)
    expect(run!.runAt.getTime() - before).toBeGreaterThanOrEqual(5 * 60_000 - 1000)
    expect(run!.runAt.getTime() - before).toBeLessThan(5 * 60_000 + 5000)
    expect(typeof status.createdAt).toBe('string')
  })

  it('input is validated at enqueue: an invalid one throws and nothing is stored; so does an unknown option', async () => {
    const { jobClient } = createQueuebase({ errand: t.errand, router })
    await expect(jobClient.sendEmail.enqueue({ to: 'not an email', subject: 'Hi', body: 'x' })).rejects.toBeInstanceOf(ValidationError)
    await expect(jobClient.sendEmail.enqueue({ to: 'a@b.co', subject: 'Hi', body: 'x' }, { delay: '5 minutes' })).rejects.toThrow()
    await expect(jobClient.sendEmail.enqueue({ to: 'a@b.co', subject: 'Hi', body: 'x' }, { priority: 1 } as never)).rejects.toBeInstanceOf(InvalidOptionError)
    expect((await t.errand.runs.list()).runs).toEqual([])
  })

  it('the polling example: getStatus() until completed shows the result', async () => {
    const q = createQueuebase({ errand: t.errand, router })
    await q.start({ pollInterval: '50ms' })
    const { jobClient } = q
    const { jobId, getStatus } = await jobClient.generateExport.enqueue({
      type: "CSV",
    });
    expect(await pollExport(getStatus)).toBe(`https://files.example.com/${jobId}.csv`)
    const status = await getStatus()
    expect(status).toMatchObject({ status: 'completed', attempt: 1, maxAttempts: 3, error: null })
    expect(status.startedAt).not.toBeNull()
    expect(status.completedAt).not.toBeNull()
  })

  it('retries with linear backoff from backoffDelay, then failed with the error', async () => {
    const q = createQueuebase({ errand: t.errand, router })
    await q.start({ pollInterval: '20ms' })
    const { getStatus } = await q.jobClient.flaky.enqueue({})
    expect(await pollExport(getStatus)).toBe('error: failed attempt 3')
    expect(await getStatus()).toMatchObject({ status: 'failed', attempt: 3, maxAttempts: 3, result: null })
    // concurrency is per job type: only the job's own value is accepted at enqueue.
    await expect(q.jobClient.flaky.enqueue({}, { concurrency: 5 })).rejects.toBeInstanceOf(InvalidOptionError)
    await q.jobClient.flaky.enqueue({}, { concurrency: 2 })
    expect(t.errand.describeTasks().find((task) => task.name === 'flaky')?.concurrency).toBe(2)
  })

  it('cancelled runs report cancelled', async () => {
    const { jobClient } = createQueuebase({ errand: t.errand, router })
    const { jobId, getStatus } = await jobClient.sendEmail.enqueue({ to: 'a@b.co', subject: 's', body: 'b' }, { delay: 60_000 })
    await t.errand.runs.cancel(jobId)
    expect((await getStatus()).status).toBe('cancelled')
  })

  it('from another process: enqueue and getStatus through the HTTP API, a fresh request each call', async () => {
    const server = createQueuebase({ errand: t.errand, router })
    await server.start({ pollInterval: '50ms' })
    const web = await serve(t.errand, { port: 0 })
    let requests = 0
    try {
      const jobClient = createHttpJobClient(router, {
        apiUrl: new URL('/', web.url).toString(),
        fetch: (input, init) => (requests++, fetch(input, init)),
      })
      await expect(jobClient.generateExport.enqueue({ type: 'PDF' as 'CSV' })).rejects.toBeInstanceOf(ValidationError)
      expect(requests).toBe(0)
      const { jobId, getStatus } = await jobClient.generateExport.enqueue({
        type: "CSV",
      });
      expect(await pollExport(getStatus)).toBe(`https://files.example.com/${jobId}.csv`)
      const before = requests
      await getStatus()
      await getStatus()
      expect(requests).toBe(before + 2)
      const delayed = await jobClient.sendEmail.enqueue({ to: 'user@example.com', subject: 'Hi', body: 'Hello' }, { delay: '5m', retries: 5 })
      expect(await delayed.getStatus()).toMatchObject({ status: 'pending', maxAttempts: 6, name: 'sendEmail' })
    } finally {
      await web.close()
    }
  })

  it('from another process: a client process polls getStatus() through the HTTP API until completed', async () => {
    const server = createQueuebase({ errand: t.errand, router })
    await server.start({ pollInterval: '50ms' })
    const web = await serve(t.errand, { port: 0 })
    try {
      const root = resolve(import.meta.dirname, '../..')
      const child = spawn(process.execPath, ['--import', join(root, 'node_modules/tsx/dist/esm/index.mjs'), join(root, 'test/process/queuebase-client.ts')], {
        env: { ...process.env, QUEUEBASE_API_URL: web.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      child.stdout.on('data', (chunk) => (out += chunk))
      child.stderr.on('data', (chunk) => (err += chunk))
      const code = await new Promise<number | null>((done) => child.on('close', done))
      expect(code, err).toBe(0)
      const { jobId, shown, statuses } = JSON.parse(out.trim()) as { jobId: string; shown: string; statuses: string[] }
      expect(shown).toBe(`https://files.example.com/${jobId}.csv`)
      expect(statuses.at(-1)).toBe('completed')
      expect((await t.errand.runs.get(jobId))?.task).toBe('generateExport')
    } finally {
      await web.close()
    }
  })
})
