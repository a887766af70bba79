/**
 * Upgrading a store made by the first release (migration 1 only): every later migration is
 * applied on open, existing runs read on (with no schedule), and the newer features work.
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import { POSTGRES_MIGRATIONS } from '../src/storage/postgres/migrations.js'
import { SQLITE_MIGRATIONS } from '../src/storage/sqlite/migrations.js'
import { storeKinds, type StoreSpec } from './support/stores.js'

const RUN_ID = '01900000-0000-7000-8000-000000000001'

/** Lays version 1 and one run, as the first release would have. */
async function layOldStore(spec: StoreSpec): Promise<void> {
  const v1 = (list: readonly { version: number }[]) => list.find((m) => m.version === 1)
  if (spec.kind === 'sqlite') {
    const db = new Database(spec.path)
    for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>) db.exec(`DROP TABLE ${name}`)
    db.exec('CREATE TABLE errand_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
    db.exec((v1(SQLITE_MIGRATIONS) as (typeof SQLITE_MIGRATIONS)[number]).sql)
    db.prepare('INSERT INTO errand_migrations VALUES (?, ?, ?)').run(1, 'runs and attempts', Date.now())
    db.prepare(`INSERT INTO errand_runs (id, task, status, payload, max_attempts, retry_policy, run_at, created_at, updated_at)
      VALUES (?, 'old-task', 'queued', '{"old":true}', 3, '{"attempts":3,"backoff":"fixed","initialDelayMs":1000,"maxDelayMs":1000,"jitter":false}', 0, 0, 0)`).run(RUN_ID)
    db.close()
    return
  }
  const client = new pg.Client({ connectionString: spec.connectionString })
  await client.connect()
  try {
    const s = `"${spec.schema}"`
    // The test store arrives migrated to the latest version: start again from nothing.
    await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
    await client.query(`CREATE SCHEMA ${s}`)
    await client.query(`CREATE TABLE ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    await client.query((v1(POSTGRES_MIGRATIONS) as (typeof POSTGRES_MIGRATIONS)[number]).sql(s))
    await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES (1, 'runs and attempts')`)
    await client.query(
      `INSERT INTO ${s}.runs (id, task, status, payload, max_attempts, retry_policy, run_at, created_at, updated_at)
       VALUES ($1, 'old-task', 'queued', '{"old":true}', 3, '{"attempts":3,"backoff":"fixed","initialDelayMs":1000,"maxDelayMs":1000,"jitter":false}', now(), now(), now())`,
      [RUN_ID],
    )
  } finally {
    await client.end()
  }
}

describe.each(storeKinds())('upgrading a first-release $name store', (kind) => {
  it('applies every later migration and keeps the runs', async () => {
    const store = await kind.create()
    try {
      await layOldStore(store.spec)
      const errand = new Errand({ store: store.open() })
      try {
        errand.task('old-task', {}, async (_p, ctx) => ctx.step.run('one-step', async () => 'ok'))
        await errand.migrate()
        expect(await errand.runs.get(RUN_ID)).toMatchObject({ payload: { old: true }, scheduleKey: null, scheduledFor: null })
        await errand.schedules.upsert({ key: 'after-upgrade', task: 'old-task', cron: '@daily' })
        expect((await errand.schedules.list()).map((s) => s.key)).toEqual(['after-upgrade'])
        await errand.worker({ pollInterval: '50ms' }).start()
        expect(await errand.runs.wait(RUN_ID, { timeout: '10s' })).toMatchObject({ status: 'completed', output: 'ok' })
        expect((await errand.runs.steps(RUN_ID)).map((step) => step.name)).toEqual(['one-step'])
      } finally {
        await errand.close()
      }
    } finally {
      await store.cleanup()
    }
  })
})
