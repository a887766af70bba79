import type { RunListParams, RunListResult } from '../driver.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import { runColumns, runFromRow, type RunRow } from './rows.js'

type RowQuery = (text: string, values: unknown[]) => Promise<RunRow[]>

/**
 * One page of runs, newest first. Ids are UUIDv7 in the C collation, so `id DESC` is
 * creation order and the cursor (the last id of the previous page) is a plain `id <`
 * bound, served by the primary key or the (task, id) / (status, id) / (queue, id) / (schedule_key, id) indexes.
 * Only the filters given appear in the statement; every value is bound.
 */
export async function listRuns(query: RowQuery, s: string, params: RunListParams): Promise<RunListResult> {
  const where: string[] = []
  const values: unknown[] = []
  const bind = (value: unknown) => (values.push(value), `$${values.length}`)
  if (params.task !== undefined) where.push(`r.task = ${bind(params.task)}`)
  if (params.queue !== undefined) where.push(`r.queue = ${bind(params.queue)}`)
  if (params.schedule !== undefined) where.push(`r.schedule_key = ${bind(params.schedule)}`)
  if (params.status?.length) where.push(`r.status = ANY(${bind(params.status)}::text[])`)
  if (params.cursor !== undefined) where.push(`r.id < ${bind(decodeCursor(params.cursor))}`)
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : ''
  const rows = await query(`SELECT ${runColumns('r')} FROM ${s}.runs r ${filter} ORDER BY r.id DESC LIMIT ${bind(params.limit + 1)}`, values)
  const page = rows.slice(0, params.limit)
  const last = page[page.length - 1]
  return { runs: page.map(runFromRow), nextCursor: rows.length > params.limit && last ? encodeCursor(last.id) : null }
}
