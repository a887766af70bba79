/**
 * errand, from this repository's compiled build (`npm run build` writes dist/, which
 * `npm run bench:peers` runs first), as an installed package runs, on PostgreSQL and on
 * SQLite. Not from the TypeScript source through tsx: its transform wraps every function
 * made at run time in a naming helper (esbuild's keepNames), a cost no installed package
 * pays and none of the peers pays here. Tuned form: concurrency 50 and `prefetch: 500`,
 * the worker options docs/api.md recommends for many short runs (claims of up to 550,
 * batchSize defaulting to concurrency + prefetch); nothing else changes.
 *
 * Retained history (retained scenario): finished runs written with one INSERT ... SELECT in
 * the store's own schema (`errand.runs` on PostgreSQL, `errand_runs` on SQLite), each row
 * as a completed first attempt leaves it (status `completed`, output, attempt 1, the worker
 * kept on the run, from which that attempt's record is read), so the run counters' triggers
 * fire as they would. Then the tables are analyzed (and on PostgreSQL vacuumed and checkpointed), as
 * autovacuum and time would have left a long-lived store.
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import { createErrand } from '../../../dist/index.js'
import type { StoreDriver } from '../../../dist/storage/driver.js'
import { postgresStore } from '../../../dist/storage/postgres/index.js'
import { sqliteStore } from '../../../dist/storage/sqlite/index.js'
import { settlePostgres } from './settle.js'
import { HISTORY_STEP_MS, TASK, historyStart, plainVariants, type Adapter, type Payload, type SystemDef } from './system.js'

/** The tuned form's runs claimed ahead of free slots, as graphile-worker's tuned local queue holds 500. */
const TUNED_PREFETCH = 500

async function openErrand(store: StoreDriver): Promise<Adapter> {
  const errand = createErrand({ store })
  let onJob: (payload: Payload) => void = () => {}
  const task = errand.task(TASK, {}, (payload) => {
    onJob(payload as Payload)
  })
  await errand.migrate()
  return {
    enqueueOne: async (payload) => void (await task.enqueue(payload)),
    enqueueMany: async (payloads) => void (await task.enqueueMany(payloads)),
    async work(variant, handler) {
      onJob = handler
      await errand.worker({ concurrency: variant.concurrency, prefetch: variant.tuned ? TUNED_PREFETCH : 0 }).start()
    },
    close: () => errand.close(),
  }
}

/** What a run enqueued with no options stores as its retry policy (read back from a real run). */
const RETRY_POLICY = '{"attempts":3,"backoff":"exponential","initialDelayMs":1000,"maxDelayMs":3600000,"jitter":true}'

/** Migrations first, through the library itself, so the seed writes into the schema it made. */
async function migrated(open: () => Promise<Adapter>): Promise<void> {
  await (await open()).close()
}

async function seedPostgres(url: string, count: number): Promise<void> {
  await migrated(() => openErrand(postgresStore({ connectionString: url })))
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    // Ids in the runtime's UUIDv7 layout: the creation millisecond first, so byte order is
    // creation order and the history sorts before the runs enqueued afterwards.
    await client.query(
      `INSERT INTO errand.runs (id, task, status, payload, output, attempt, max_attempts, priority, flags, metadata,
         retry_policy, timeout_ms, run_at, created_at, started_at, locked_at, locked_by, completed_at, updated_at, job_key_current)
       SELECT substr(x.h, 1, 8) || '-' || substr(x.h, 9, 4) || '-7000-8000-' || lpad(to_hex(i), 12, '0'),
         $1, 'completed', jsonb_build_object('i', i), 'null'::jsonb, 1, 3, 0, '[]', '{}', $2::jsonb, 900000,
         x.t, x.t, x.t + interval '4 ms', x.t + interval '4 ms', 'seed', x.t + interval '8 ms', x.t + interval '8 ms', false
       FROM generate_series(1, $3::int) AS i,
         LATERAL (SELECT $4::bigint + i::bigint * $5::int AS ms) AS m,
         LATERAL (SELECT lpad(to_hex(m.ms), 12, '0') AS h, to_timestamp(m.ms / 1000.0) AS t) AS x`,
      [TASK, RETRY_POLICY, count, historyStart(count), HISTORY_STEP_MS],
    )
  } finally {
    await client.end()
  }
  await settlePostgres(url, ['errand.runs', 'errand.run_count_deltas'])
}

async function seedSqlite(path: string, count: number): Promise<void> {
  await migrated(() => openErrand(sqliteStore({ path })))
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    db.transaction(() => {
      db.prepare(
        `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < CAST(@count AS INTEGER)),
           history(i, ms) AS (SELECT i, CAST(@start AS INTEGER) + i * CAST(@step AS INTEGER) FROM seq)
         INSERT INTO errand_runs (id, task, status, payload, output, attempt, max_attempts, priority, flags, metadata,
           retry_policy, timeout_ms, run_at, created_at, started_at, locked_at, locked_by, completed_at, updated_at, job_key_current)
         SELECT printf('%08x-%04x-7000-8000-%012x', ms >> 16, ms & 65535, i),
           @task, 'completed', json_object('i', i), 'null', 1, 3, 0, '[]', '{}', @policy, 900000,
           ms, ms, ms + 4, ms + 4, 'seed', ms + 8, ms + 8, 0
         FROM history`,
      ).run({ count, start: historyStart(count), step: HISTORY_STEP_MS, task: TASK, policy: RETRY_POLICY })
    })()
    db.exec('ANALYZE')
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

const variants = [
  ...plainVariants((c) => `concurrency ${c}`),
  { key: 'tuned', label: `concurrency 50, prefetch ${TUNED_PREFETCH} (claims up to 550 per statement)`, concurrency: 50, tuned: true },
]
const defaultWorker = { key: 'default', label: 'defaults (concurrency 10)', concurrency: 10 }

export const errandPostgres: SystemDef = {
  name: 'errand (PostgreSQL)',
  store: 'postgres',
  pkg: 'errand',
  variants,
  defaultWorker,
  open: (url) => openErrand(postgresStore({ connectionString: url })),
  retained: { seed: (url, _queue, count) => seedPostgres(url, count) },
}

export const errandSqlite: SystemDef = {
  name: 'errand (SQLite)',
  store: 'sqlite',
  pkg: 'errand',
  variants,
  defaultWorker,
  open: (path) => openErrand(sqliteStore({ path })),
  retained: { seed: (path, _queue, count) => seedSqlite(path, count) },
}
