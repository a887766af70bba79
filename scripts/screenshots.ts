/**
 * Takes the dashboard screenshots in docs/screenshots/ from a store filled with an hour of
 * made-up history and a few live runs. Needs /usr/bin/chromium.
 *
 *   npx tsx scripts/screenshots.ts
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { createErrand, defineTask, NonRetryableError } from '../src/index.js'
import { serve } from '../src/http/index.js'
import { idAt } from '../src/storage/conformance/fixtures.js'
import type { NewRun } from '../src/storage/driver.js'
import { sqliteStore } from '../src/storage/sqlite/index.js'
import { launchBrowser } from '../test/support/browser.js'

const dir = mkdtempSync(join(tmpdir(), 'errand-shots-'))
const out = join(import.meta.dirname, '..', 'docs', 'screenshots')
mkdirSync(out, { recursive: true })
const store = sqliteStore({ path: join(dir, 'shots.db') })
const errand = createErrand({ store })

let calls = 0
const tasks = errand.register({
  sendEmail: defineTask({ name: 'send-welcome-email', input: z.object({ userId: z.string(), email: z.string() }), run: async (p) => ({ messageId: `msg_${p.userId}` }) }),
  syncProvider: defineTask({
    name: 'sync-provider',
    input: z.object({ accountId: z.string() }),
    retry: { attempts: 4, backoff: 'fixed', initialDelay: '200ms', jitter: false },
    run: async (p, ctx) => {
      const account = await ctx.step.run('load-account', async () => ({ id: p.accountId, plan: 'pro' }))
      ctx.log(`syncing ${account.id} on attempt ${ctx.attempt}`)
      await ctx.progress(ctx.attempt / 3)
      if (ctx.attempt < 3) {
        ctx.log.warn('provider is slow', { latencyMs: 4_800 + ctx.attempt })
        throw new Error(`provider timed out syncing ${p.accountId} (attempt ${ctx.attempt})`)
      }
      const synced = await ctx.step.run('push-changes', async () => ({ records: 42 }))
      return { synced: synced.records, calls: ++calls }
    },
  }),
  deliverWebhook: defineTask({
    name: 'deliver-webhook',
    input: z.object({ url: z.string(), eventId: z.string() }),
    maxAttempts: 3,
    run: async (p) => {
      if (p.url.includes('gone')) throw new NonRetryableError('endpoint answered 410 Gone')
      return { status: 200 }
    },
  }),
})

// An hour of history, straight through the store: runs finished minute by minute.
const now = Date.now()
const names = ['send-welcome-email', 'sync-provider', 'deliver-webhook']
for (let minute = 60; minute >= 1; minute--) {
  const at = now - minute * 60_000
  const count = Math.round(25 + 18 * Math.sin(minute / 7) + (minute % 5) * 3)
  const runs: NewRun[] = Array.from({ length: count }, (_, i) => ({
    id: idAt(at + i),
    task: names[i % 3] as string,
    status: 'queued',
    payloadJson: JSON.stringify({ n: i }),
    maxAttempts: 3,
    priority: 0,
    queue: null,
    concurrencyKey: null,
    concurrencyLimit: null,
    jobKeyMode: null,
    idempotencyKey: null,
    jobKey: null,
    flags: [],
    metadataJson: '{}',
    retryPolicy: { attempts: 3, backoff: 'exponential', initialDelayMs: 1000, maxDelayMs: 60_000, jitter: true },
    timeoutMs: 60_000,
    runAt: new Date(at),
    replayOf: null,
    replayReason: null,
  }))
  await store.runInsertMany({ runs, now: new Date(at) })
  const claimed = await store.runClaim({ workerId: 'history', tasks: names, limit: count, leaseMs: 60_000, now: new Date(at) })
  await store.runFinishMany({
    now: new Date(at + 20_000),
    results: claimed.map((run, i) =>
      i % 13 === 0 && minute % 4 === 0
        ? { id: run.id, attempt: 1, workerId: 'history', outcome: 'dead_lettered' as const, error: { name: 'Error', message: 'endpoint answered 500' } }
        : { id: run.id, attempt: 1, workerId: 'history', outcome: 'completed' as const, outputJson: '{"ok":true}' },
    ),
  })
}

// A few live runs: one retried twice, one dead-lettered, some scheduled.
const worker = errand.worker({ concurrency: 4, pollInterval: '50ms' })
await worker.start()
const retried = await tasks.syncProvider.enqueue({ accountId: 'acct_2291' })
const gone = await tasks.deliverWebhook.enqueue({ url: 'https://hooks.example.com/gone', eventId: 'evt_2291' })
await tasks.sendEmail.enqueue({ userId: 'user_7', email: 'ada@example.com' })
for (let n = 0; n < 3; n++) await tasks.sendEmail.enqueue({ userId: `user_${10 + n}`, email: `user${10 + n}@example.com` }, { delay: `${n + 1}h` })
await errand.runs.wait(retried.id, { timeout: '10s' })
await errand.runs.wait(gone.id, { timeout: '10s' }).catch(() => {})

const served = await serve(errand, { port: 0 })
const shoot = async (name: string, hash: string, options: { width?: number; height?: number; colorScheme?: 'light' | 'dark'; full?: boolean; act?: (page: import('playwright-core').Page) => Promise<void> } = {}) => {
  const browser = await launchBrowser(options)
  const page = await browser.context.newPage()
  await page.goto(`${served.url}${hash}`)
  await page.locator('#live[data-state="on"]').waitFor()
  await page.waitForTimeout(800)
  await options.act?.(page)
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: options.full ?? false })
  await browser.close()
  console.log(`docs/screenshots/${name}.png`)
}
await shoot('overview', '#/', { height: 860 })
await shoot('runs', '#/runs', { height: 820 })
await shoot('run', `#/runs/${retried.id}`, { height: 1400, full: true })
await shoot('run-dead-dark', `#/runs/${gone.id}`, { colorScheme: 'dark', height: 900 })
await shoot('replay-dialog', '#/runs?task=deliver-webhook&status=dead_lettered', {
  height: 700,
  act: async (page) => {
    await page.getByRole('button', { name: 'Replay all…' }).click()
    await page.waitForTimeout(300)
  },
})
await shoot('mobile-dark', '#/', { width: 390, height: 844, colorScheme: 'dark' })

await served.close()
await errand.close()
rmSync(dir, { recursive: true, force: true })
