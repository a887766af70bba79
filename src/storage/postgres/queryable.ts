import type pg from 'pg'

/**
 * Anything that runs a parameterised statement: a pg Pool or PoolClient, or a caller's own
 * transaction handle from a query builder. Results may come back as `{ rows }` (node-postgres)
 * or as the rows array itself (some wrappers); {@link rowsOf} accepts both.
 */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>
}

/** The rows of a query result, whichever shape the client returned. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[]
  const rows = (result as { rows?: unknown } | null)?.rows
  if (Array.isArray(rows)) return rows as T[]
  throw new TypeError('The transaction handle returned a result without rows: pass a client whose query(text, values) resolves to { rows } or an array')
}

/** Whether a value can serve as a caller's transaction handle. */
export function isQueryable(value: unknown): value is Queryable {
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function'
}

/**
 * Runs `fn` inside BEGIN/COMMIT on one connection of the pool, rolling back on any error.
 * A connection that failed mid-transaction is destroyed rather than returned to the pool.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    try {
      await client.query('ROLLBACK')
    } catch (rollbackError) {
      broken = rollbackError as Error
    }
    throw error
  } finally {
    client.release(broken)
  }
}
