import type pg from 'pg'

/** Rows this driver inserts before it makes sure the runs table has planner statistics. */
const ROWS_BEFORE_CHECK = 1_000

/**
 * A planner trap of fresh installations. Until the runs table has been analyzed with rows
 * in it, PostgreSQL falls back to default selectivities, estimates the claim's WHERE at one
 * row, and claims with a bitmap scan of every due run plus a sort instead of walking the
 * `runs_due` index and stopping at LIMIT. Measured here: 36 ms per claim of 50 at 20,000
 * queued runs and 104 ms at 50,000, against 0.1 ms once analyzed; every claim pays it until
 * autovacuum gets round to the table (a minute or more). Statistics taken with any rows
 * present keep the good plan as the table grows, so one ANALYZE after the first thousand
 * inserts is enough; it runs in the background and only if no statistics exist yet.
 */
export class PlannerStatsBootstrap {
  private inserted = 0
  private done = false

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly quotedSchema: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Called with the number of rows committed by an insert on the store's own pool. */
  noteInserted(count: number): void {
    if (this.done) return
    this.inserted += count
    if (this.inserted < ROWS_BEFORE_CHECK) return
    this.done = true
    this.analyzeIfUnanalyzed().catch(this.onError)
  }

  private async analyzeIfUnanalyzed(): Promise<void> {
    const { rows } = await this.pool.query<{ analyzed: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = $1 AND tablename = 'runs') AS analyzed",
      [this.schema],
    )
    if (!rows[0]?.analyzed) await this.pool.query(`ANALYZE ${this.quotedSchema}.runs`)
  }
}
