import type { InsertReason, NewRun, RunInsertResult } from '../driver.js'
import { insertedRunRecord } from '../inserted-run.js'
import { insertArrays } from './params.js'
import { runColumns, runFromRow, type RunRow } from './rows.js'
import { groupRows } from './groups.js'
import { INPUT_CTE, INSERT_COLUMNS, insertSelect, notifying, type PostgresStatements } from './statements.js'

/** Runs one statement on the connection (or transaction) the insert uses, and returns its rows. */
export type RowExec = (text: string, values: unknown[]) => Promise<RunRow[]>

const CURRENT = `r.task = $1 AND r.job_key = $2 AND r.job_key_current`
const NOT_STARTED = `r.status IN ('scheduled', 'queued') AND r.attempt = 0`
/** Job-key writes give up after this many rounds of losing a race; each round means another writer made progress. */
const MAX_ROUNDS = 20

/** The statements of job keys, for one schema. */
export class JobKeyStatements {
  readonly upsert: string
  readonly insertOrNothing: string
  readonly getCurrent: string
  readonly retireCurrent: string
  readonly cancelCurrent: string

  constructor(s: string, notify: boolean) {
    const insert = (onConflict: string, notifyFrom: number) =>
      notifying(
        `WITH ${INPUT_CTE}${groupRows(s)}, ins AS (
          INSERT INTO ${s}.runs AS r ${INSERT_COLUMNS} SELECT ${insertSelect('true')} FROM input
          ON CONFLICT (task, job_key) WHERE job_key_current ${onConflict}
          RETURNING ${runColumns('r')}
        )`,
        notify,
        notifyFrom,
      )
    // The update applies only to a run that has not started; a started (or final) one is
    // locked but left as it is, and nothing is returned, which sends the caller to retire
    // it from the key. Two arrays are appended (batch jobs); anything else is replaced.
    // $22: keep the run's time (preserve_run_at).
    this.upsert = insert(
      `DO UPDATE SET
        payload = CASE WHEN jsonb_typeof(r.payload) = 'array' AND jsonb_typeof(EXCLUDED.payload) = 'array'
                       THEN r.payload || EXCLUDED.payload ELSE EXCLUDED.payload END,
        status = CASE WHEN $22::boolean THEN r.status ELSE EXCLUDED.status END,
        run_at = CASE WHEN $22::boolean THEN r.run_at ELSE EXCLUDED.run_at END,
        max_attempts = EXCLUDED.max_attempts, priority = EXCLUDED.priority, queue = EXCLUDED.queue,
        concurrency_key = EXCLUDED.concurrency_key, concurrency_limit = EXCLUDED.concurrency_limit,
        flags = EXCLUDED.flags, metadata = EXCLUDED.metadata, retry_policy = EXCLUDED.retry_policy,
        timeout_ms = EXCLUDED.timeout_ms, updated_at = EXCLUDED.updated_at
      WHERE ${NOT_STARTED}`,
      23,
    )
    // DO NOTHING waits for a concurrent insert of the same key to commit or roll back.
    this.insertOrNothing = insert('DO NOTHING', 22)
    this.getCurrent = `SELECT ${runColumns('r')} FROM ${s}.runs r WHERE ${CURRENT}`
    this.retireCurrent = `UPDATE ${s}.runs r SET job_key_current = false WHERE ${CURRENT} AND NOT (${NOT_STARTED})`
    // The second branch reads the snapshot, where the run just cancelled is still current:
    // it only speaks when the first changed nothing.
    this.cancelCurrent = `
      WITH cancelled AS (
        UPDATE ${s}.runs r SET status = 'cancelled', cancel_reason = $3, completed_at = $4, updated_at = $4, job_key_current = false
        WHERE ${CURRENT} AND ${NOT_STARTED}
        RETURNING ${runColumns('r')}
      )
      SELECT *, true AS cancelled FROM cancelled
      UNION ALL
      SELECT ${runColumns('r')}, false FROM ${s}.runs r WHERE ${CURRENT} AND NOT EXISTS (SELECT 1 FROM cancelled)`
  }
}

/**
 * Inserts runs without a job key in one statement; a run that hits a unique key (an
 * idempotency key, or a schedule's tick) is answered with the run holding it, read back in
 * one statement per kind. A row that a concurrent transaction is inserting with the same
 * key makes the insert wait for it; once it commits, the read (a new snapshot under READ
 * COMMITTED) sees it, so a key never yields two runs nor a spurious error.
 */
export async function insertPlain(
  exec: RowExec,
  sql: PostgresStatements,
  runs: NewRun[],
  now: Date,
  notifyArgs: unknown[],
): Promise<RunInsertResult[]> {
  const grouped = runs.some((run) => run.queue !== null || run.concurrencyKey !== null)
  const statement = grouped ? sql.insertGroupedRuns : sql.insertRuns
  // The statement returns only the ids it inserted; their records are built from the input.
  const inserted = new Set((await exec(statement, [...insertArrays(runs), now.toISOString(), ...notifyArgs])).map((row) => row.id))
  const conflicted = runs.filter((run) => !inserted.has(run.id))
  const keyed = conflicted.filter((run) => run.idempotencyKey !== null)
  const existing = new Map<string, RunRow>()
  if (keyed.length > 0) {
    const found = await exec(sql.findIdempotent, [keyed.map((run) => run.task), keyed.map((run) => run.idempotencyKey)])
    for (const row of found) existing.set(idempotencyKeyOf(row.task, row.idempotency_key), row)
  }
  const ticks = conflicted.filter((run) => run.idempotencyKey === null && run.scheduleKey && run.scheduledFor)
  const taken = new Map<string, RunRow>()
  if (ticks.length > 0) {
    const found = await exec(sql.findScheduledTicks, [ticks.map((run) => run.scheduleKey), ticks.map((run) => (run.scheduledFor as Date).toISOString())])
    for (const row of found) taken.set(tickKeyOf(row.schedule_key, Number(row.scheduled_for)), row)
  }
  return runs.map((run) => {
    if (inserted.has(run.id)) return { run: insertedRunRecord(run, now), created: true }
    const other = run.idempotencyKey === null ? undefined : existing.get(idempotencyKeyOf(run.task, run.idempotencyKey))
    if (other) return { run: runFromRow(other), created: false, reason: 'idempotent' as const }
    const tick = run.scheduledFor ? taken.get(tickKeyOf(run.scheduleKey ?? null, run.scheduledFor.getTime())) : undefined
    if (tick) return { run: runFromRow(tick), created: false, reason: 'scheduled_tick' as const }
    throw new Error(`Run ${run.id} conflicts with an existing run but no idempotency key or schedule tick matches`)
  })
}

function tickKeyOf(schedule: string | null, ms: number): string {
  return `${schedule ?? ''}\u0000${ms}`
}

/**
 * Inserts one run with a job key. Every step is one atomic statement on the unique index
 * (task, job_key) where job_key_current: an upsert that updates the key's run if it has not
 * started, or inserts when the key has none. When the key's run has started, it is retired
 * from the key (it keeps going) and the upsert runs again. A round lost to a concurrent
 * writer is simply retried: each step is safe on its own, so no transaction is needed.
 */
export async function insertKeyed(exec: RowExec, sql: JobKeyStatements, run: NewRun, now: Date, notifyArgs: unknown[]): Promise<RunInsertResult> {
  if (run.idempotencyKey !== null) throw new Error('A run takes an idempotency key or a job key, not both')
  const values = [...insertArrays([run]), now.toISOString()]
  const key = [run.task, run.jobKey]
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (run.jobKeyMode === 'unsafe_dedupe') {
      const [row] = await exec(sql.insertOrNothing, [...values, ...notifyArgs])
      if (row) return { run: runFromRow(row), created: true }
      const [current] = await exec(sql.getCurrent, key)
      if (current) return outcome(run, current, 'deduped')
      continue // the key's run went away meanwhile (cancelled by key, or pruned): try again
    }
    const [row] = await exec(sql.upsert, [...values, run.jobKeyMode === 'preserve_run_at', ...notifyArgs])
    if (row) return outcome(run, row, 'replaced')
    await exec(sql.retireCurrent, key)
  }
  throw new Error(`Could not enqueue under job key "${run.jobKey}": it kept changing under concurrent writers`)
}

function outcome(run: NewRun, row: RunRow, reason: InsertReason): RunInsertResult {
  return row.id === run.id ? { run: runFromRow(row), created: true } : { run: runFromRow(row), created: false, reason }
}

function idempotencyKeyOf(task: string, key: string | null): string {
  return `${task}\u0000${key ?? ''}`
}
