/**
 * How the runs list, the counts, the activity chart and the change feed behave with a
 * million runs, on each store. Run by hand (not part of npm test):
 *
 *   npx tsx bench/http-scale.ts                       # SQLite, 1,000,000 runs
 *   DATABASE_URL=postgres://... npx tsx bench/http-scale.ts --store postgres
 *   npx tsx bench/http-scale.ts --runs 100000         # a smaller table
 *   npx tsx bench/http-scale.ts --keep                # keep the SQLite file (or PostgreSQL schema) and print it
 *   npx tsx bench/http-scale.ts --reuse <file|schema> # measure again on a kept store, without seeding
 *
 * Runs are spread over the last 30 days across 5 tasks and 3 queues, then most of them are
 * claimed and finished (completed, some dead-lettered or cancelled) through the store's own
 * batched statements, so the statuses, indexes and counters look like a long-lived system's.
 * Each query is timed 30 times after 3 warm-ups; the median and the 95th percentile are printed.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Errand } from '../src/index.js'
import { createHttpApp } from '../src/http/index.js'
import type { NewRun, StoreDriver } from '../src/storage/driver.js'
import { postgresStore } from '../src/storage/postgres/index.js'
import { sqliteStore } from '../src/storage/sqlite/index.js'

const { values } = parseArgs({ options: { store: { type: 'string', default: 'sqlite' }, runs: { type: 'string', default: '1000000' }, keep: { type: 'boolean', default: false }, reuse: { type: 'string' } } })
const TOTAL = Number(values.runs)
const TASKS = ['send-email', 'sync-provider', 'deliver-webhook', 'resize-image', 'nightly-report']
const QUEUES = [null, 'mail', 'webhooks', 'media']
const DAY = 86_400_000
const BATCH = 5_000

function idAt(ms: number): string {
  const bytes = randomBytes(16)
  bytes.writeUIntBE(ms, 0, 6)
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function openDriver(): { driver: StoreDriver; cleanup: () => Promise<void> } {
  if (values.store === 'postgres') {
    const url = process.env.DATABASE_URL
    if (!url) throw new Error('Set DATABASE_URL for --store postgres')
    const schema = values.reuse ?? `bench_${randomBytes(3).toString('hex')}`
    console.log(`  schema: ${schema}${values.keep || values.reuse ? ' (kept)' : ''}`)
    const driver = postgresStore({ connectionString: url }, { schema, notify: false })
    const drop = async () => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end())
    }
    return { driver, cleanup: async () => (values.keep || values.reuse ? undefined : drop()) }
  }
  if (values.reuse) return { driver: sqliteStore({ path: values.reuse, synchronous: 'normal' }), cleanup: async () => {} }
  const dir = mkdtempSync(join(tmpdir(), 'errand-scale-'))
  const driver = sqliteStore({ path: join(dir, 'scale.db'), synchronous: 'normal' })
  if (values.keep) console.log(`  database: ${join(dir, 'scale.db')}`)
  return { driver, cleanup: async () => (values.keep ? undefined : rmSync(dir, { recursive: true, force: true })) }
}

/** Inserts TOTAL runs created over the last 30 days, oldest first, a batch per statement. */
async function seed(driver: StoreDriver, now: number): Promise<void> {
  const start = now - 30 * DAY
  const step = (30 * DAY) / TOTAL
  for (let offset = 0; offset < TOTAL; offset += BATCH) {
    const runs: NewRun[] = []
    for (let i = offset; i < Math.min(TOTAL, offset + BATCH); i++) {
      const created = Math.floor(start + i * step)
      runs.push({
        id: idAt(created),
        task: TASKS[i % TASKS.length] as string,
        status: 'queued',
        payloadJson: JSON.stringify({ userId: `user_${i}`, attempt: i % 7, note: 'x'.repeat(40) }),
        maxAttempts: 3,
        priority: 0,
        queue: QUEUES[i % QUEUES.length] ?? null,
        concurrencyKey: null,
        concurrencyLimit: null,
        jobKeyMode: null,
        idempotencyKey: null,
        jobKey: null,
        flags: [],
        metadataJson: '{}',
        retryPolicy: { attempts: 3, backoff: 'exponential', initialDelayMs: 1000, maxDelayMs: 3_600_000, jitter: true },
        timeoutMs: 60_000,
        runAt: new Date(created),
        replayOf: null,
        replayReason: null,
      })
    }
    await driver.runInsertMany({ runs, now: new Date(runs[0]!.runAt) })
    if ((offset / BATCH) % 20 === 19) process.stdout.write(`\r  inserted ${offset + runs.length}`)
  }
  process.stdout.write('\n')
}

/**
 * Finishes all but the newest 0.5% of runs, oldest first: one in 17 dead-lettered, the rest
 * completed. Finish times follow creation times, except that the last 2% finish within the
 * last hour, so the activity chart has something to add up.
 */
async function settle(driver: StoreDriver, now: number): Promise<void> {
  const keep = Math.floor(TOTAL * 0.005)
  const recent = TOTAL - keep - Math.floor(TOTAL * 0.02)
  let done = 0
  const finishAt = (index: number) =>
    index < recent ? new Date(now - 30 * DAY + ((index + 1) / TOTAL) * 30 * DAY) : new Date(now - 3_600_000 + ((index - recent) / (TOTAL - keep - recent)) * 3_500_000)
  while (done < TOTAL - keep) {
    const claimed = await driver.runClaim({ workerId: 'bench', tasks: TASKS, limit: Math.min(BATCH, TOTAL - keep - done), leaseMs: 60_000, now: new Date(now) })
    if (claimed.length === 0) break
    const at = finishAt(done)
    await driver.runFinishMany({
      now: at,
      results: claimed.map((run, i) =>
        (done + i) % 17 === 0
          ? { id: run.id, attempt: run.attempt, workerId: 'bench', outcome: 'dead_lettered' as const, error: { name: 'Error', message: 'endpoint answered 500' } }
          : { id: run.id, attempt: run.attempt, workerId: 'bench', outcome: 'completed' as const, outputJson: '{"ok":true}' },
      ),
    })
    done += claimed.length
    if ((done / BATCH) % 20 === 19) process.stdout.write(`\r  finished ${done}`)
  }
  process.stdout.write(`\r  finished ${done}\n`)
  // A few in flight, so every status shows.
  await driver.runClaim({ workerId: 'bench', tasks: TASKS, limit: 500, leaseMs: 3_600_000, now: new Date(now) })
}

async function time(label: string, fn: () => Promise<unknown>): Promise<{ label: string; median: number; p95: number }> {
  for (let i = 0; i < 3; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < 30; i++) {
    const started = performance.now()
    await fn()
    samples.push(performance.now() - started)
  }
  samples.sort((a, b) => a - b)
  const result = { label, median: samples[14] as number, p95: samples[28] as number }
  console.log(`  ${label.padEnd(52)} median ${result.median.toFixed(2).padStart(8)} ms   p95 ${result.p95.toFixed(2).padStart(8)} ms`)
  return result
}

const { driver, cleanup } = openDriver()
const errand = new Errand({ store: driver })
console.log(`errand http-scale: ${TOTAL.toLocaleString('en')} runs on ${values.store}`)
await errand.migrate()
let now = Date.now()
if (values.reuse) {
  // A kept store was seeded relative to its own time: measure from its newest run.
  now = (await errand.runs.list({ limit: 1 })).runs[0]!.createdAt.getTime()
} else {
  const seeding = performance.now()
  await seed(driver, now)
  await settle(driver, now)
  console.log(`  seeded in ${((performance.now() - seeding) / 1000).toFixed(0)} s`)
}

const counts = await errand.runs.counts()
console.log(`  statuses: ${JSON.stringify(counts.byStatus)}`)
const middle = (await errand.runs.list({ limit: 1, createdBefore: new Date(now - 15 * DAY) })).runs[0]!
const deepCursor = Buffer.from(middle.id, 'utf8').toString('base64url')
const app = createHttpApp(errand)
const http = (path: string) => async () => {
  const response = await app.fetch(new Request(`http://bench/${path}`))
  if (response.status !== 200) throw new Error(`${path}: ${response.status}`)
  await response.arrayBuffer()
}

await time('list: newest 50', () => errand.runs.list({ limit: 50 }))
await time('list: 50 from the middle (cursor)', () => errand.runs.list({ limit: 50, cursor: deepCursor }))
await time('list: task', () => errand.runs.list({ limit: 50, task: 'deliver-webhook' }))
await time('list: status dead_lettered', () => errand.runs.list({ limit: 50, status: 'dead_lettered' }))
await time('list: task + status dead_lettered', () => errand.runs.list({ limit: 50, task: 'deliver-webhook', status: 'dead_lettered' }))
await time('list: status completed or dead_lettered', () => errand.runs.list({ limit: 50, status: ['completed', 'dead_lettered'] }))
await time('list: queue + status queued', () => errand.runs.list({ limit: 50, queue: 'webhooks', status: 'queued' }))
await time('list: created within one day, 15 days ago', () => errand.runs.list({ limit: 50, createdFrom: new Date(now - 16 * DAY), createdBefore: new Date(now - 15 * DAY) }))
await time('list: task, created within one day', () => errand.runs.list({ limit: 50, task: 'send-email', createdFrom: new Date(now - 16 * DAY), createdBefore: new Date(now - 15 * DAY) }))
await time('counts: by status, task and queue', () => errand.runs.counts())
await time('activity: last hour per minute', () => errand.runs.activity())
await time('change feed: one poll (a page of 500 changes)', () => driver.runListChanged({ after: { updatedAt: new Date(now - 2_000), id: '' }, limit: 500 }))
await time('change feed: idle poll (nothing changed)', () => driver.runListChanged({ after: { updatedAt: new Date(Date.now() + 60_000), id: '' }, limit: 500 }))
await time('HTTP GET api/runs (50, JSON)', http('api/runs?limit=50'))
await time('HTTP GET api/runs?task=…&status=dead_lettered', http('api/runs?limit=50&task=deliver-webhook&status=dead_lettered'))
await time('HTTP GET api/counts', http('api/counts'))

await errand.close()
await cleanup()
