/**
 * Per-job database work of a processing measurement on PostgreSQL, read from the server's
 * own counters for the measurement's fresh database (`pg_stat_database`): commits, and rows
 * and buffers touched. It shows where a library's time goes without instrumenting it.
 * Enabled with `PEERS_PG_STATS=1`: the measuring child closes the system's connections
 * around the drain (a backend flushes its counters when it exits), so the delta is the
 * drain's alone, plus the system's few start-up statements.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'

const COLUMNS = ['xact_commit', 'tup_returned', 'tup_fetched', 'tup_updated', 'blks_hit', 'blks_read'] as const
type Snapshot = Record<(typeof COLUMNS)[number], number>

async function snapshot(url: string): Promise<Snapshot> {
  // The stats collector may lag the exiting backends by a moment.
  await sleep(500)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query(`SELECT ${COLUMNS.join(', ')} FROM pg_stat_database WHERE datname = current_database()`)
    return Object.fromEntries(COLUMNS.map((c) => [c, Number(rows[0]?.[c] ?? 0)])) as Snapshot
  } finally {
    await client.end()
  }
}

export const pgStatsEnabled = (): boolean => process.env.PEERS_PG_STATS === '1'

/** Starts counting; the returned function gives the per-job deltas (the two reads themselves included). */
export async function countDatabaseWork(url: string | null): Promise<(jobs: number) => Promise<Record<string, number> | undefined>> {
  if (!url || !pgStatsEnabled()) return async () => undefined
  const before = await snapshot(url)
  return async (jobs) => {
    const after = await snapshot(url)
    return Object.fromEntries(COLUMNS.map((c) => [c.replace('xact_commit', 'commits'), (after[c] - before[c]) / Math.max(1, jobs)]))
  }
}
