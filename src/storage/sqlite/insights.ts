import type Database from 'better-sqlite3'
import type { RunStatus } from '../../core/run-state.js'
import type { RunActivityBucket, RunActivityParams, RunChange, RunCountRow, RunListChangedParams } from '../driver.js'

interface ChangeRow {
  id: string
  task: string
  queue: string | null
  status: string
  attempt: number
  max_attempts: number
  priority: number
  run_at: number
  created_at: number
  started_at: number | null
  completed_at: number | null
  updated_at: number
}

/** The statements behind the dashboard's counts, activity chart and change feed (migration 5). */
export class SqliteInsights {
  private readonly counts: Database.Statement
  private readonly activity: Database.Statement
  private readonly changed: Database.Statement

  constructor(db: Database.Database) {
    this.counts = db.prepare(`SELECT task, queue, status, n FROM errand_run_counts WHERE n <> 0 ORDER BY task, queue, status`)
    // Bounded by the runs that finished inside the window: the partial index on completed_at
    // is walked from `since`, never the whole table.
    this.activity = db.prepare(`
      SELECT (completed_at / CAST(@bucket AS INTEGER)) * CAST(@bucket AS INTEGER) AS at, status, count(*) AS n
      FROM errand_runs INDEXED BY errand_runs_finished
      WHERE completed_at IS NOT NULL AND completed_at >= @since AND status IN ('completed', 'cancelled', 'dead_lettered')
      GROUP BY 1, 2 ORDER BY 1, 2`)
    // Running runs are not in errand_runs_updated (migration 6): they are read apart, through
    // errand_runs_lease (few of them), and merged by the outer sort of at most twice the page.
    const changedSide = (side: string) => `SELECT * FROM (
      SELECT id, task, queue, status, attempt, max_attempts, priority, run_at, created_at, started_at, completed_at, updated_at
      FROM errand_runs
      WHERE ${side} AND (updated_at, id) > (@at, @id)
      ORDER BY updated_at, id LIMIT @limit)`
    this.changed = db.prepare(`
      ${changedSide(`status <> 'running'`)} UNION ALL ${changedSide(`status = 'running'`)}
      ORDER BY updated_at, id LIMIT @limit`)
  }

  countByStatus(): RunCountRow[] {
    const rows = this.counts.all() as Array<{ task: string; queue: string; status: string; n: number }>
    return rows.map((row) => ({ task: row.task, queue: row.queue === '' ? null : row.queue, status: row.status as RunStatus, count: row.n }))
  }

  activityOf(params: RunActivityParams): RunActivityBucket[] {
    const bucket = Math.max(1, Math.floor(params.bucketMs))
    const since = Math.floor(params.since.getTime() / bucket) * bucket
    const rows = this.activity.all({ bucket, since }) as Array<{ at: number; status: string; n: number }>
    return rows.map((row) => ({ at: new Date(row.at), status: row.status as RunActivityBucket['status'], count: row.n }))
  }

  listChanged(params: RunListChangedParams): RunChange[] {
    const rows = this.changed.all({ at: params.after.updatedAt.getTime(), id: params.after.id, limit: params.limit }) as ChangeRow[]
    return rows.map((row) => ({
      id: row.id,
      task: row.task,
      queue: row.queue,
      status: row.status as RunStatus,
      attempt: row.attempt,
      maxAttempts: row.max_attempts,
      priority: row.priority,
      runAt: new Date(row.run_at),
      createdAt: new Date(row.created_at),
      startedAt: row.started_at === null ? null : new Date(row.started_at),
      completedAt: row.completed_at === null ? null : new Date(row.completed_at),
      updatedAt: new Date(row.updated_at),
    }))
  }
}
