import type { NewRun, RunInsertResult } from '../driver.js'
import { runFromRow, type RunRow } from './rows.js'
import type { PostgresStatements } from './statements.js'

type RowQuery = (text: string, values: unknown[]) => Promise<RunRow[]>

/**
 * Pairs each new run with its outcome after the batched insert: the row it created, or the
 * existing run whose unique key it hit (an idempotency key, or a schedule's tick), read
 * back in one statement per kind. A row a concurrent transaction was inserting with the
 * same key made the insert wait for it; once it committed, these reads see it.
 */
export async function matchInserted(runs: NewRun[], insertedRows: RunRow[], query: RowQuery, sql: PostgresStatements): Promise<RunInsertResult[]> {
  const inserted = new Map(insertedRows.map((row) => [row.id, row]))
  const conflicted = runs.filter((run) => !inserted.has(run.id))
  const keyed = conflicted.filter((run) => run.idempotencyKey !== null)
  const idempotent = new Map<string, RunRow>()
  if (keyed.length > 0) {
    for (const row of await query(sql.findIdempotent, [keyed.map((run) => run.task), keyed.map((run) => run.idempotencyKey)])) {
      idempotent.set(keyOf(row.task, row.idempotency_key), row)
    }
  }
  const ticks = conflicted.filter((run) => run.idempotencyKey === null && run.scheduleKey && run.scheduledFor)
  const taken = new Map<string, RunRow>()
  if (ticks.length > 0) {
    for (const row of await query(sql.findScheduledTicks, [ticks.map((run) => run.scheduleKey), ticks.map((run) => (run.scheduledFor as Date).toISOString())])) {
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
