/**
 * Upgrading a store made before schedules: migration 3 is applied over version 1 alone, or
 * over versions 1 and 2 (another line of work adds 2; the runner applies whatever versions
 * are missing, so the order in which they land does not matter). Existing runs read on,
 * with no schedule.
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import { POSTGRES_MIGRATIONS } from '../src/storage/postgres/migrations.js'
import { SQLITE_MIGRATIONS } from '../src/storage/sqlite/migrations.js'
import { storeKinds, type StoreSpec } from './support/stores.js'

const RUN_ID = '01900000-0000-7000-8000-000000000001'

/** Lays version 1 (and a stand-in row for version 2 when asked) and one run, as an older errand would have. */
async function layOldStore(spec: StoreSpec, withVersion2: boolean): Promise<void> {
  const v1 = (list: readonly { version: number }[]) => list.find((m) => m.version === 1)
  if (spec.kind === 'sqlite') {
    const db = new Database(spec.path)
    db.exec('CREATE TABLE errand_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
    db.exec((v1(SQLITE_MIGRATIONS) as (typeof SQLITE_MIGRATIONS)[number]).sql)
    db.prepare('INSERT INTO errand_migrations VALUES (?, ?, ?)').run(1, 'runs and attempts', Date.now())
    if (withVersion2) db.prepare('INSERT INTO errand_migrations VALUES (?, ?, ?)').run(2, 'steps, logs', Date.now())
    db.prepare(`INSERT INTO errand_runs (id, task, status, payload, max_attempts, retry_policy, run_at, created_at, updated_at)
      VALUES (?, 'old-task', 'queued', '{"old":true}', 3, '{"attempts":3,"backoff":"fixed","initialDelayMs":1000,"maxDelayMs":1000,"jitter":false}', 0, 0, 0)`).run(RUN_ID)
    db.close()
    return
  }
  const client = new pg.Client({ connectionString: spec.connectionString })
  await client.connect()
  try {
    const s = `"${spec.schema}"`
    await client.query(`CREATE SCHEMA ${s}`)
    await client.query(`CREATE TABLE ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    await client.query((v1(POSTGRES_MIGRATIONS) as (typeof POSTGRES_MIGRATIONS)[number]).sql(s))
    await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES (1, 'runs and attempts')`)
    if (withVersion2) await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES (2, 'steps, logs')`)
    await client.query(
      `INSERT INTO ${s}.runs (id, task, status, payload, max_attempts, retry_policy, run_at, created_at, updated_at)
       VALUES ($1, 'old-task', 'queued', '{"old":true}', 3, '{"attempts":3,"backoff":"fixed","initialDelayMs":1000,"maxDelayMs":1000,"jitter":false}', now(), now(), now())`,
      [RUN_ID],
    )
  } finally {
    await client.end()
  }
}

describe.each(storeKinds())('migration 3 on an existing $name store', (kind) => {
  it.each([false, true])('applies over version 1 (version 2 recorded: %s) and keeps the runs', async (withVersion2) => {
    const store = await kind.create()
    try {
      await layOldStore(store.spec, withVersion2)
      const errand = new Errand({ store: store.open() })
      try {
        errand.task('old-task', {}, async () => 'ok')
        await errand.migrate()
        expect(await errand.runs.get(RUN_ID)).toMatchObject({ payload: { old: true }, scheduleKey: null, scheduledFor: null })
        await errand.schedules.upsert({ key: 'after-upgrade', task: 'old-task', cron: '@daily' })
        expect((await errand.schedules.list()).map((s) => s.key)).toEqual(['after-upgrade'])
      } finally {
        await errand.close()
      }
    } finally {
      await store.cleanup()
    }
  })
})
