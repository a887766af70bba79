/**
 * The example app: a worker on the embedded SQLite store with a few tasks, one of them
 * flaky so retries show, a producer that enqueues runs, and a recurring task declared in
 * code that runs every ten seconds. Every run's life is printed.
 *
 *   npm start                      # runs until Ctrl+C
 *   ERRAND_DB=./my.db npm start    # another database file
 *   EXAMPLE_RUN_FOR=5s npm start   # stop by itself after a while
 */
import { z } from 'zod'
import { createErrand, defineTask, NonRetryableError, parseDuration, type Run } from 'errand'
import { sqliteStore } from 'errand/sqlite'

const sendWelcome = defineTask({
  name: 'send-welcome-email',
  input: z.object({ userId: z.string(), email: z.string().email() }),
  run: async (payload) => {
    await sleep(50 + Math.random() * 150)
    return { messageId: `msg_${payload.userId}` }
  },
})

const syncProvider = defineTask({
  name: 'sync-provider',
  input: z.object({ accountId: z.string() }),
  retry: { attempts: 4, backoff: 'exponential', initialDelay: '500ms', maxDelay: '5s' },
  run: async (payload, ctx) => {
    await sleep(100)
    // The provider fails now and then: the retry policy takes care of it.
    if (Math.random() < 0.4) throw new Error(`provider timed out syncing ${payload.accountId} (attempt ${ctx.attempt})`)
    return { synced: Math.floor(Math.random() * 100) }
  },
})

const deliverWebhook = defineTask({
  name: 'deliver-webhook',
  input: z.object({ url: z.string().url(), eventId: z.string() }),
  retry: { attempts: 3, backoff: { delays: ['200ms', '1s'] } },
  timeout: '2s',
  run: async (payload, ctx) => {
    await sleep(80, ctx.signal)
    if (payload.url.includes('gone')) throw new NonRetryableError('endpoint answered 410 Gone')
    if (payload.url.includes('broken')) throw new Error('endpoint answered 500')
    return { status: 200 }
  },
})

// Declared in code: the worker syncs it to the store when it starts. Restarting the app
// neither duplicates it nor resets its ticks; each tick runs once however many copies run.
const queueReport = defineTask({
  name: 'queue-report',
  schedule: { cron: '*/10 * * * * *', overlap: 'skip' },
  run: async (_payload, ctx) => {
    const { runs } = await errand.runs.list({ status: ['queued', 'scheduled'], limit: 1000 })
    return { tick: ctx.run.scheduledFor?.toISOString(), waiting: runs.length }
  },
})

const errand = createErrand({ store: sqliteStore({ path: process.env.ERRAND_DB ?? './errand.db' }) })
const tasks = errand.register({ sendWelcome, syncProvider, deliverWebhook, queueReport })

const short = (run: Run) => `${run.task.padEnd(18)} ${run.id.slice(-8)}`
errand.on('run.enqueued', ({ run }) => log(`enqueued   ${short(run)} ${run.status === 'scheduled' ? `due ${run.runAt.toISOString()}` : ''}`))
errand.on('run.started', ({ run }) => log(`started    ${short(run)} attempt ${run.attempt}/${run.maxAttempts}`))
errand.on('run.completed', ({ run, durationMs }) => log(`completed  ${short(run)} in ${durationMs}ms -> ${JSON.stringify(run.output)}`))
errand.on('run.failed', ({ run, error, retryAt }) =>
  log(`failed     ${short(run)} ${error.message}${retryAt ? `; retry at ${retryAt.toISOString()}` : ''}`),
)
errand.on('run.dead_lettered', ({ run, error }) => log(`dead       ${short(run)} after ${run.attempt} attempt(s): ${error.message}`))
errand.on('worker.error', ({ error }) => log(`worker error: ${error.message}`))

let produced = 0
async function produce(): Promise<void> {
  produced++
  await tasks.sendWelcome.enqueue({ userId: `user_${produced}`, email: `user${produced}@example.com` })
  await tasks.syncProvider.enqueue({ accountId: `acct_${produced}` }, { delay: '500ms' })
  const url = produced % 5 === 0 ? 'https://example.com/gone' : produced % 7 === 0 ? 'https://example.com/broken' : 'https://example.com/hook'
  await tasks.deliverWebhook.enqueue({ url, eventId: `evt_${produced}` }, { idempotencyKey: `evt_${process.pid}_${produced}` })
}

const worker = errand.worker({ concurrency: 5 })
await worker.start()
log(`worker ${worker.id} started on ${process.env.ERRAND_DB ?? './errand.db'}; Ctrl+C to stop`)
await produce()
const producer = setInterval(() => void produce().catch((error: Error) => log(`enqueue failed: ${error.message}`)), 2_000)

let stopping = false
async function shutdown(): Promise<void> {
  if (stopping) return
  stopping = true
  clearInterval(producer)
  log('stopping: letting runs in flight finish...')
  await errand.close({ timeout: '10s' })
  log('stopped')
}
process.on('SIGINT', () => void shutdown())
process.on('SIGTERM', () => void shutdown())
if (process.env.EXAMPLE_RUN_FOR) setTimeout(() => void shutdown(), parseDuration(process.env.EXAMPLE_RUN_FOR))

function log(line: string): void {
  console.log(`${new Date().toISOString().slice(11, 23)}  ${line}`)
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
  })
}
