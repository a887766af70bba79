/**
 * The limit: what SQLite itself allows on this machine, with no library in the way. Same
 * settings as errand's default store (WAL, `synchronous = FULL`, busy timeout), same kind
 * of loop: claim N rows in one `BEGIN IMMEDIATE` transaction, complete them in another,
 * each completion fenced on (id, status, attempt). Errand's figures read as a fraction of
 * these. Inserts are timed one row per commit and `batch` rows per transaction.
 *
 * A PostgreSQL limit would live beside this file as raw-postgres.ts (one connection per
 * worker slot, `FOR UPDATE SKIP LOCKED` claim, `unnest` completion) and join the plans.
 */
import Database from 'better-sqlite3'
import { performance } from 'node:perf_hooks'
import type { BenchConfig } from '../config.js'
import { processFigures } from '../instrument.js'
import type { ChildJob, JobResult, RawSchema } from '../jobs.js'
import type { ScenarioPlan } from '../plan.js'
import { runChild } from '../spawn.js'
import { sqliteTarget } from '../targets.js'
import { prepareRawSchema, type ClaimedRow, type RawStatements } from './raw-schemas.js'

type RawJob = Extract<ChildJob, { kind: 'raw' }>
const LEASE_MS = 30_000

function openRaw(path: string): Database.Database {
  const db = new Database(path)
  db.pragma('busy_timeout = 5000')
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  // As errand's store does: statement journals in memory, not in temporary files.
  db.pragma('temp_store = MEMORY')
  return db
}

function insertRows(db: Database.Database, sql: RawStatements, runs: number, batch: number): number {
  let commits = 0
  // Reader statements (RETURNING) are stepped with get(), as errand's driver does.
  const insertOne = sql.insert.reader ? (n: number, now: number) => sql.insert.get({ n, now }) : (n: number, now: number) => sql.insert.run({ n, now })
  const insertBatch = db.transaction((from: number, to: number) => {
    const now = Date.now()
    for (let n = from; n < to; n++) insertOne(n, now)
  })
  for (let i = 0; i < runs; i += batch) {
    insertBatch.immediate(i, Math.min(runs, i + batch))
    commits++
  }
  return commits
}

/** Claims and completes until nothing is due; returns the commits made (the last, empty claim included). */
function drain(db: Database.Database, sql: RawStatements, claimSize: number): { commits: number; processed: number } {
  const claim = db.transaction((now: number) => sql.claim.all({ worker: 'raw-worker', now, lease: now + LEASE_MS, limit: claimSize }) as ClaimedRow[])
  const complete = db.transaction((rows: ClaimedRow[], now: number) => {
    for (const row of rows) sql.complete(row, now)
  })
  let commits = 0
  let processed = 0
  for (;;) {
    const rows = claim.immediate(Date.now())
    commits++
    if (rows.length === 0) return { commits, processed }
    // A consumer reads its payload: keep that cost in the limit too.
    for (const row of rows) JSON.parse(row.payload)
    complete.immediate(rows, Date.now())
    commits++
    processed += rows.length
  }
}

export function rawJob(job: RawJob): JobResult {
  const db = openRaw(job.path)
  const sql = prepareRawSchema(db, job.schema)
  if (job.op === 'claim') insertRows(db, sql, job.runs, 1_000)
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  let commits: number
  if (job.op === 'insert') {
    commits = insertRows(db, sql, job.runs, job.batch)
  } else {
    const result = drain(db, sql, job.batch)
    if (result.processed !== job.runs) throw new Error(`raw drain processed ${result.processed} of ${job.runs}`)
    commits = result.commits
  }
  const elapsedMs = performance.now() - t0
  const figures = processFigures(cpu, job.runs)
  db.close()
  return { runs: job.runs, elapsedMs, perSec: (job.runs / elapsedMs) * 1000, commitsPerRun: commits / job.runs, callsPerRun: commits / job.runs, ...figures }
}

export function rawPlans(config: BenchConfig): ScenarioPlan[] {
  const plan = (op: RawJob['op'], schema: RawSchema, batch: number, label: string): ScenarioPlan => ({
    group: 'raw',
    scenario: `raw.${op}.${schema}.${batch}`,
    target: 'raw-sqlite',
    label,
    async measure(dir) {
      const location = await sqliteTarget.fresh(dir)
      try {
        if (location.spec.kind !== 'sqlite') throw new Error('raw SQLite needs a SQLite location')
        return await runChild<JobResult>({ kind: 'raw', path: location.spec.path, op, schema, batch, runs: config.runs })
      } finally {
        await location.cleanup()
      }
    },
  })
  const table = (schema: RawSchema) => (schema === 'lean' ? 'lean table' : "errand's schema")
  const plans: ScenarioPlan[] = []
  for (const schema of ['lean', 'errand'] as const) {
    plans.push(plan('insert', schema, 1, `raw insert, 1 row per commit, ${table(schema)}`))
    plans.push(plan('insert', schema, config.enqueueBatch, `raw insert, ${config.enqueueBatch} rows per commit, ${table(schema)}`))
  }
  for (const size of config.rawClaimSizes) plans.push(plan('claim', 'lean', size, `raw claim ${size} + complete ${size}, lean table`))
  // errand's schema at the worker's own claim sizes: separates schema cost from runtime cost.
  for (const size of config.concurrencies) plans.push(plan('claim', 'errand', size, `raw claim ${size} + complete ${size}, errand's schema`))
  return plans
}
