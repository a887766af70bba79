import type Database from 'better-sqlite3'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { runIdFloor, type RunListParams, type RunListResult } from '../driver.js'
import { runFromRow, type RunRow } from './rows.js'

/** The WHERE clause of one page for one status (or any), every value bound. */
function filterOf(params: RunListParams, status: string | null): { where: string; values: unknown[] } {
  const where: string[] = []
  const values: unknown[] = []
  if (params.task !== undefined) (where.push('task = ?'), values.push(params.task))
  if (params.queue !== undefined) (where.push('queue = ?'), values.push(params.queue))
  if (params.schedule !== undefined) (where.push('schedule_key = ?'), values.push(params.schedule))
  if (status !== null) (where.push('status = ?'), values.push(status))
  // Running runs are not in the status indexes (migration 6); SQLite uses a partial index
  // only when the query repeats its predicate word for word. Running ones come by errand_runs_lease.
  if (status !== null && status !== 'running') where.push(`status <> 'running'`)
  if (params.cursor !== undefined) (where.push('id < ?'), values.push(decodeCursor(params.cursor)))
  // The id bound lets the index serve the range; created_at keeps it exact.
  if (params.createdFrom) (where.push('id >= ? AND created_at >= ?'), values.push(runIdFloor(params.createdFrom), params.createdFrom.getTime()))
  if (params.createdBefore) (where.push('id < ? AND created_at < ?'), values.push(runIdFloor(params.createdBefore), params.createdBefore.getTime()))
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', values }
}

/**
 * One page of runs, newest first, on an index that matches the filters: the primary key,
 * (task, id), (status, id), (queue, id), (schedule_key, id), (task, status, id) or
 * (queue, status, id).
 * Several statuses are read one index range each and merged: `status IN (a, b)` would make
 * SQLite sort every matching row (at a million finished runs, a second per page).
 */
export function listRuns(db: Database.Database, params: RunListParams): RunListResult {
  const statuses = params.status?.length ? [...new Set(params.status)] : [null]
  const take = params.limit + 1
  const parts = statuses.map((status) => filterOf(params, status))
  const sql =
    parts.length === 1
      ? `SELECT * FROM errand_runs ${parts[0]!.where} ORDER BY id DESC LIMIT ?`
      : `${parts.map((part) => `SELECT * FROM (SELECT * FROM errand_runs ${part.where} ORDER BY id DESC LIMIT ?)`).join(' UNION ALL ')} ORDER BY id DESC LIMIT ?`
  const values = parts.length === 1 ? parts[0]!.values : parts.flatMap((part) => [...part.values, take])
  const rows = db.prepare(sql).all(...values, take) as RunRow[]
  const page = rows.slice(0, params.limit)
  const last = page[page.length - 1]
  return { runs: page.map(runFromRow), nextCursor: rows.length > params.limit && last ? encodeCursor(last.id) : null }
}
