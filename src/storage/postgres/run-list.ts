import { RUN_STATUSES, type RunStatus } from '../../core/run-state.js'
import { runIdFloor, type RunListParams, type RunListResult } from '../driver.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { runColumns, runFromRow, type RunRow } from './rows.js'

const NOT_RUNNING = `r.status <> 'running'`

type RowQuery = (text: string, values: unknown[]) => Promise<RunRow[]>

/**
 * One page of runs, newest first. Ids are UUIDv7 in the C collation, so `id DESC` is
 * creation order and the cursor (the last id of the previous page) is a plain `id <`
 * bound, served by the primary key or the (status, id) / (schedule_key, id) indexes, and
 * the (task, status, id) / (queue, status, id) ones of migration 5. Only the filters given
 * appear in the statement; every value is bound.
 */
export async function listRuns(query: RowQuery, s: string, params: RunListParams): Promise<RunListResult> {
  const values: unknown[] = []
  const bind = (value: unknown) => (values.push(value), `$${values.length}`)
  const take = params.limit + 1
  // Several statuses are read one index range each and merged (a Merge Append): with
  // `status = ANY(...)` the planner sorts every matching row, a million of them for
  // completed + dead_lettered. Running runs are not in the list indexes (migration 7), so
  // every select says which side it reads, in words the planner can match to an index's
  // predicate; without a status filter, both sides are merged.
  const statuses = params.status?.length ? [...new Set(params.status)] : everyStatusFor(params)
  const selects = statuses.map((status) => {
    const where: string[] = []
    if (status === 'running') where.push(`r.status = 'running'`)
    else if (status === null) where.push(NOT_RUNNING)
    else where.push(`r.status = ${bind(status)}`, NOT_RUNNING)
    if (params.task !== undefined) where.push(`r.task = ${bind(params.task)}`)
    if (params.queue !== undefined) where.push(`r.queue = ${bind(params.queue)}`)
    if (params.schedule !== undefined) where.push(`r.schedule_key = ${bind(params.schedule)}`)
    if (params.cursor !== undefined) where.push(`r.id < ${bind(decodeCursor(params.cursor))}`)
    // The id bound lets an index serve the range; created_at keeps it exact.
    if (params.createdFrom) where.push(`r.id >= ${bind(runIdFloor(params.createdFrom))} AND r.created_at >= ${bind(params.createdFrom)}`)
    if (params.createdBefore) where.push(`r.id < ${bind(runIdFloor(params.createdBefore))} AND r.created_at < ${bind(params.createdBefore)}`)
    return `SELECT ${runColumns('r')} FROM ${s}.runs r WHERE ${where.join(' AND ')} ORDER BY r.id DESC LIMIT ${bind(take)}`
  })
  const text = selects.length === 1 ? (selects[0] as string) : `SELECT * FROM (${selects.map((select) => `(${select})`).join(' UNION ALL ')}) AS merged ORDER BY id DESC LIMIT ${bind(take)}`
  const rows = await query(text, values)
  const page = rows.slice(0, params.limit)
  const last = page[page.length - 1]
  return { runs: page.map(runFromRow), nextCursor: rows.length > params.limit && last ? encodeCursor(last.id) : null }
}

/**
 * The statuses to read apart when the filter names none. A task or a queue has no index of
 * its own (migration 8): its list reads the (task, status, id) or (queue, status, id) index
 * once per status, each range already newest first. A schedule's list has its own
 * (schedule_key, id) index, which a per-status read would walk once per status.
 */
function everyStatusFor(params: RunListParams): (RunStatus | null)[] {
  const byTaskOrQueue = (params.task !== undefined || params.queue !== undefined) && params.schedule === undefined
  return byTaskOrQueue ? [...RUN_STATUSES] : [null, 'running']
}
