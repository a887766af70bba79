import type { NewRun, RunInsertResult } from '../driver.js'
import { insertArrays } from './params.js'
import { rowsOf, type Queryable } from './queryable.js'
import { runFromRow, type RunRow } from './rows.js'

/** How the two insert statements are sent on a client (prepared or not, with the NOTIFY values). */
export interface InsertStatements {
  insert(client: Queryable, values: unknown[]): Promise<unknown>
  findIdempotent(client: Queryable, values: unknown[]): Promise<unknown>
}

/**
 * Inserts a batch of runs on `client`: our pool, or a caller's handle inside their own
 * transaction. One statement inserts the whole batch, so it is atomic on its own; runs that
 * hit the idempotency index are then read back. A row that a concurrent transaction is
 * inserting with the same key makes our insert wait for that transaction; if it commits,
 * the read (a new snapshot under READ COMMITTED) sees its row, so a key never yields two
 * runs nor a spurious error.
 */
export async function insertRuns(client: Queryable, statements: InsertStatements, runs: NewRun[], now: Date): Promise<RunInsertResult[]> {
  const values = [...insertArrays(runs), now.toISOString()]
  const inserted = new Map(rowsOf<RunRow>(await statements.insert(client, values)).map((row) => [row.id, row]))
  const keyed = runs.filter((run) => !inserted.has(run.id) && run.idempotencyKey !== null)
  const existing = new Map<string, RunRow>()
  if (keyed.length > 0) {
    const found = rowsOf<RunRow>(await statements.findIdempotent(client, [keyed.map((run) => run.task), keyed.map((run) => run.idempotencyKey)]))
    for (const row of found) existing.set(keyOf(row.task, row.idempotency_key), row)
  }
  return runs.map((run) => {
    const row = inserted.get(run.id)
    if (row) return { run: runFromRow(row), created: true }
    const other = run.idempotencyKey === null ? undefined : existing.get(keyOf(run.task, run.idempotencyKey))
    if (!other) throw new Error(`Run ${run.id} conflicts with an existing run but no idempotency key matches`)
    return { run: runFromRow(other), created: false, reason: 'idempotent' }
  })
}

function keyOf(task: string, key: string | null): string {
  return `${task}\u0000${key ?? ''}`
}
