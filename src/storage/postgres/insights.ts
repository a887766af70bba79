import type { RunStatus } from '../../core/run-state.js'
import type { RunActivityBucket, RunActivityParams, RunChange, RunCountRow, RunListChangedParams } from '../driver.js'
import type { QueuedRunCounts } from './claim-plans.js'
import { ms } from './rows.js'

type Rows = <T>(text: string, values: unknown[]) => Promise<T[]>

/** Deltas folded per call: enough to keep up with any write rate, small enough to stay a short transaction. */
const FOLD_LIMIT = 50_000

/** The statements behind the dashboard's counts, activity chart and change feed (migration 5). `s` is the quoted schema. */
export class PostgresInsights {
  private readonly fold: string
  private readonly counts: string
  private readonly queuedCounts: string
  private readonly activity: string
  readonly changed: string

  constructor(
    s: string,
    private readonly rows: Rows,
  ) {
    // Moves a batch of deltas into the counters in one statement. SKIP LOCKED lets two
    // readers fold at once without waiting; ORDER BY fixes the order in which counter rows
    // are locked, so two folds cannot deadlock.
    this.fold = `
      WITH moved AS (
        DELETE FROM ${s}.run_count_deltas d
        WHERE d.id IN (SELECT id FROM ${s}.run_count_deltas ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING d.task, d.queue, d.status, d.n
      )
      INSERT INTO ${s}.run_counts AS c (task, queue, status, n)
      SELECT task, queue, status, sum(n) FROM moved GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT (task, queue, status) DO UPDATE SET n = c.n + EXCLUDED.n`
    // Counters plus the deltas not folded yet, read in one snapshot: a fold commits both
    // sides at once, so no change is counted twice or missed.
    this.counts = `
      SELECT task, queue, status, sum(n)::int8 AS n FROM (
        SELECT task, queue, status, n FROM ${s}.run_counts
        UNION ALL
        SELECT task, queue, status, n FROM ${s}.run_count_deltas
      ) AS all_counts
      GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3`
    // The same sum, of queued runs only, split by whether their task is among $1 (ClaimPlans).
    this.queuedCounts = `
      SELECT coalesce(sum(n) FILTER (WHERE task = ANY($1)), 0)::float8 AS own,
        coalesce(sum(n) FILTER (WHERE task <> ALL($1)), 0)::float8 AS others
      FROM (
        SELECT task, n FROM ${s}.run_counts WHERE status = 'queued'
        UNION ALL
        SELECT task, n FROM ${s}.run_count_deltas WHERE status = 'queued'
      ) AS queued`
    // Walks runs_updated from `since`: bounded by the runs written inside the window, never
    // the whole table. A finished run's updated_at is written with its completed_at and
    // only moves forward after, so the window's finished runs are all in that range.
    this.activity = `
      SELECT (floor(${ms('completed_at')} / $2) * $2)::float8 AS at, status, count(*)::int8 AS n
      FROM ${s}.runs
      WHERE updated_at >= $1 AND completed_at >= $1 AND status IN ('completed', 'cancelled', 'dead_lettered')
      GROUP BY 1, 2 ORDER BY 1, 2`
    // Qualified names throughout: a bare `ORDER BY updated_at` would sort by the output
    // column of that name (epoch ms, computed), which no index serves: measured 130 ms
    // instead of 0.4 ms for a page of 500 at a million runs.
    // Running runs are not in runs_updated (migration 7): they are read apart, through
    // runs_lease (few of them), and merged by the outer sort of at most twice the page.
    const changedSide = (side: string) => `(
      SELECT r.id, r.task, r.queue, r.status, r.attempt, r.max_attempts, r.priority, ${ms('r.run_at')} AS run_at,
        ${ms('r.created_at')} AS created_at, ${ms('r.started_at')} AS started_at, ${ms('r.completed_at')} AS completed_at,
        ${ms('r.updated_at')} AS updated_at, r.updated_at AS updated_ts
      FROM ${s}.runs r
      WHERE ${side} AND (r.updated_at, r.id) > ($1, $2)
      ORDER BY r.updated_at, r.id LIMIT $3)`
    this.changed = `
      SELECT * FROM (${changedSide(`r.status <> 'running'`)} UNION ALL ${changedSide(`r.status = 'running'`)}) AS changed
      ORDER BY changed.updated_ts, changed.id LIMIT $3`
  }

  /**
   * Moves deltas into the counters. Readers do, and so does maintenance: without a reader
   * (no dashboard open), every claim and finish would leave rows behind for good.
   */
  async foldCounts(): Promise<void> {
    await this.rows(this.fold, [FOLD_LIMIT])
  }

  async countByStatus(): Promise<RunCountRow[]> {
    await this.foldCounts()
    const rows = await this.rows<{ task: string; queue: string; status: string; n: string | number }>(this.counts, [])
    return rows.map((row) => ({ task: row.task, queue: row.queue === '' ? null : row.queue, status: row.status as RunStatus, count: Number(row.n) }))
  }

  async queuedRunCounts(tasks: string[]): Promise<QueuedRunCounts> {
    const [row] = await this.rows<QueuedRunCounts>(this.queuedCounts, [tasks])
    return { own: Number(row?.own ?? 0), others: Number(row?.others ?? 0) }
  }

  async activityOf(params: RunActivityParams): Promise<RunActivityBucket[]> {
    const bucket = Math.max(1, Math.floor(params.bucketMs))
    const since = new Date(Math.floor(params.since.getTime() / bucket) * bucket)
    const rows = await this.rows<{ at: number; status: string; n: string | number }>(this.activity, [since, bucket])
    return rows.map((row) => ({ at: new Date(Number(row.at)), status: row.status as RunActivityBucket['status'], count: Number(row.n) }))
  }

  async listChanged(params: RunListChangedParams): Promise<RunChange[]> {
    const rows = await this.rows<Record<string, unknown>>(this.changed, [params.after.updatedAt, params.after.id, params.limit])
    return rows.map((row) => ({
      id: String(row.id),
      task: String(row.task),
      queue: (row.queue as string | null) ?? null,
      status: row.status as RunStatus,
      attempt: Number(row.attempt),
      maxAttempts: Number(row.max_attempts),
      priority: Number(row.priority),
      runAt: new Date(Number(row.run_at)),
      createdAt: new Date(Number(row.created_at)),
      startedAt: row.started_at === null ? null : new Date(Number(row.started_at)),
      completedAt: row.completed_at === null ? null : new Date(Number(row.completed_at)),
      updatedAt: new Date(Number(row.updated_at)),
    }))
  }
}
