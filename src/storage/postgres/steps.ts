import type { LogLevel, RunLog, Step } from '../../core/run.js'
import type { LogAppendParams, LogListParams, RunProgressSetParams, StepSaveParams } from '../driver.js'
import { fromJsonbText, toJsonbText } from './json-column.js'
import { ms } from './rows.js'

/** Runs one statement and returns its rows. */
type Rows = <T>(text: string, values: unknown[]) => Promise<T[]>


interface StepRow {
  run_id: string
  name: string
  kind: string
  attempt: number | string
  output: string | null
  wake_at: number | string | null
  completed_at: number | string
}

interface LogRow {
  run_id: string
  attempt: number | string
  at: number | string
  level: string
  message: string
  data: string | null
}

/** Durable steps, progress and run logs on PostgreSQL; `s` is the quoted schema. */
export class PostgresSteps {
  private readonly list: string
  private readonly save: string
  private readonly progress: string
  private readonly append: string
  private readonly logs: string

  constructor(
    s: string,
    private readonly rows: Rows,
  ) {
    this.list = `
      SELECT run_id, name, kind, attempt, output::text AS output, ${ms('wake_at')} AS wake_at, ${ms('completed_at')} AS completed_at
      FROM ${s}.steps WHERE run_id = $1 ORDER BY seq`
    // Fenced: FOR SHARE holds the run row, so a rescue or cancel cannot slip between the
    // check and the insert. ON CONFLICT keeps the first result of a step.
    this.save = `
      INSERT INTO ${s}.steps (run_id, name, kind, attempt, output, wake_at, completed_at)
      SELECT r.id, $2, $3, $4, $5::jsonb, $6, $7 FROM ${s}.runs r
      WHERE r.id = $1 AND r.status = 'running' AND r.attempt = $4
      FOR SHARE
      ON CONFLICT DO NOTHING
      RETURNING 1 AS saved`
    this.progress = `
      UPDATE ${s}.runs SET progress = $3::jsonb, updated_at = $4
      WHERE id = $1 AND status = 'running' AND attempt = $2
      RETURNING 1 AS set`
    this.append = `
      INSERT INTO ${s}.logs (run_id, attempt, at, level, message, data)
      SELECT * FROM unnest($1::text[], $2::int4[], $3::timestamptz[], $4::text[], $5::text[], $6::jsonb[])`
    this.logs = `
      SELECT * FROM (
        SELECT id, run_id, attempt, ${ms('at')} AS at, level, message, data::text AS data
        FROM ${s}.logs WHERE run_id = $1 ORDER BY id DESC LIMIT $2
      ) newest ORDER BY id`
  }

  async stepList(runId: string): Promise<Step[]> {
    return (await this.rows<StepRow>(this.list, [runId])).map((row) => ({
      runId: row.run_id,
      name: row.name,
      kind: row.kind as Step['kind'],
      attempt: Number(row.attempt),
      output: fromJsonbText(row.output),
      wakeAt: row.wake_at === null ? null : new Date(Number(row.wake_at)),
      completedAt: new Date(Number(row.completed_at)),
    }))
  }

  async stepSave(params: StepSaveParams): Promise<boolean> {
    const values = [params.runId, params.name, params.kind, params.attempt, toJsonbText(params.outputJson), params.wakeAt, params.now]
    return (await this.rows(this.save, values)).length === 1
  }

  async runProgressSet(params: RunProgressSetParams): Promise<boolean> {
    const values = [params.id, params.attempt, toJsonbText(params.progressJson), params.now]
    return (await this.rows(this.progress, values)).length === 1
  }

  async logAppend(params: LogAppendParams): Promise<void> {
    const entries = params.entries
    if (entries.length === 0) return
    await this.rows(this.append, [
      entries.map((e) => e.runId),
      entries.map((e) => e.attempt),
      entries.map((e) => e.at),
      entries.map((e) => e.level),
      entries.map((e) => e.message),
      entries.map((e) => toJsonbText(e.dataJson)),
    ])
  }

  async logList(params: LogListParams): Promise<RunLog[]> {
    return (await this.rows<LogRow>(this.logs, [params.runId, params.limit])).map((row) => ({
      runId: row.run_id,
      attempt: Number(row.attempt),
      at: new Date(Number(row.at)),
      level: row.level as LogLevel,
      message: row.message,
      data: fromJsonbText(row.data),
    }))
  }
}
