import type { NewRun, RunInsertResult } from '../driver.js'
import { insertArrays } from './params.js'
import { rowsOf, type Queryable } from './queryable.js'
import { runFromRow, type RunRow } from './rows.js'

/** How the insert statements are sent on a client (prepared or not, with the NOTIFY values). */
export interface InsertStatements {
  insert(client: Queryable, values: unknown[]): Promise<unknown>
  findIdempotent(client: Queryable, values: unknown[]): Promise<unknown>
  findScheduledTicks(client: Queryable, values: unknown[]): Promise<unknown>
}

/**
 * Inserts a batch of runs on `client`: our pool, or a caller's handle inside their own
 * transaction. One statement inserts the whole batch, so it is atomic on its own; runs that
 * hit a unique key (an idempotency key, or a schedule's tick) are then read back, one
 * statement per kind. A row that a concurrent transaction is inserting with the same key
 * makes our insert wait for that transaction; if it commits, the read (a new snapshot under
 * READ COMMITTED) sees its row, so a key never yields two runs nor a spurious error.
 */
export async function insertRuns(client: Queryable, statements: InsertStatements, runs: NewRun[], now: Date): Promise<RunInsertResult[]> {
  const values = [...insertArrays(runs), now.toISOString()]
  const inserted = new Map(rowsOf<RunRow>(await statements.insert(client, values)).map((row) => [row.id, row]))
  const conflicted = runs.filter((run) => !inserted.has(run.id))
  const keyed = conflicted.filter((run) => run.idempotencyKey !== null)
  const idempotent = new Map<string, RunRow>()
  if (keyed.length > 0) {
    const found = rowsOf<RunRow>(await statements.findIdempotent(client, [keyed.map((run) => run.task), keyed.map((run) => run.idempotencyKey)]))
    for (const row of found) idempotent.set(keyOf(row.task, row.idempotency_key), row)
  }
  const ticks = conflicted.filter((run) => run.idempotencyKey === null && run.scheduleKey && run.scheduledFor)
  const taken = new Map<string, RunRow>()
  if (ticks.length > 0) {
    const tickValues = [ticks.map((run) => run.scheduleKey), ticks.map((run) => (run.scheduledFor as Date).toISOString())]
    for (const row of rowsOf<RunRow>(await statements.findScheduledTicks(client, tickValues))) {
      taken.set(tickKey(row.schedule_key, Number(row.scheduled_for)), row)
    }
  }
  return runs.map((run) => {
    const row = inserted.get(run.id)
    if (row) return { run: runFromRow(row), created: true }
    const other = run.idempotencyKey === null ? undefined : idempotent.get(keyOf(run.task, run.idempotencyKey))
    if (other) return { run: runFromRow(other), created: false, reason: 'idempotent' as const }
    const tick = run.scheduledFor ? taken.get(tickKey(run.scheduleKey ?? null, run.scheduledFor.getTime())) : undefined
    if (tick) return { run: runFromRow(tick), created: false, reason: 'scheduled_tick' as const }
    throw new Error(`Run ${run.id} conflicts with an existing run but no idempotency key or schedule tick matches`)
  })
}

function keyOf(task: string, key: string | null): string {
  return `${task}\u0000${key ?? ''}`
}

function tickKey(schedule: string | null, ms: number): string {
  return `${schedule ?? ''}\u0000${ms}`
}
