import type pg from 'pg'
import type { CatchUp, Overlap } from '../../core/schedule.js'
import type { TickOutcome } from '../../core/schedule-plan.js'
import type {
  DueSchedule,
  NewRun,
  RunInsertResult,
  ScheduleRecord,
  ScheduleReleaseHeldParams,
  SchedulePeekResult,
  ScheduleRunSpec,
  ScheduleSetEnabledParams,
  ScheduleTickDueParams,
  ScheduleTickResult,
  ScheduleTickWrite,
  ScheduleListParams,
  ScheduleUpsertParams,
  ScheduleUpsertResult,
} from '../driver.js'
import { fromJsonbText, toJsonbText } from './json-column.js'
import { withTransaction, type Queryable } from './queryable.js'
import { PostgresScheduleStatements } from './schedule-statements.js'

type Num = number | string

/** A schedules row as selected by `scheduleColumns`. */
interface ScheduleRow {
  key: string
  task: string
  cron: string
  timezone: string
  payload: string
  options: string
  run_spec: string
  catch_up: string
  overlap: string
  enabled: boolean
  next_tick_at: Num | null
  last_tick_at: Num | null
  last_tick_outcome: string | null
  last_run_id: string | null
  fingerprint: string
  created_at: Num
  updated_at: Num
}

/** What the schedule methods borrow from the driver. */
export interface PostgresScheduleHost {
  pool: pg.Pool
  schema: string
  ready(): Promise<void>
  rows<T>(text: string, values: unknown[]): Promise<T[]>
  /** Inserts runs on `client` (inside its transaction), as `runInsertMany` does. */
  insertRuns(client: Queryable, runs: NewRun[], now: Date): Promise<RunInsertResult[]>
  notifyRunsAvailable(): Promise<void>
}

/** The schedule methods of the PostgreSQL driver. */
export class PostgresSchedules {
  private readonly sql: PostgresScheduleStatements

  constructor(
    private readonly host: PostgresScheduleHost,
    quotedSchema: string,
  ) {
    this.sql = new PostgresScheduleStatements(quotedSchema)
  }

  async upsert(params: ScheduleUpsertParams): Promise<ScheduleUpsertResult> {
    await this.host.ready()
    const { schedule, now } = params
    const [row] = await this.host.rows<ScheduleRow & { inserted: boolean }>(this.sql.upsert, [
      schedule.key,
      schedule.task,
      schedule.cron,
      schedule.timezone,
      toJsonbText(schedule.payloadJson),
      toJsonbText(schedule.optionsJson),
      toJsonbText(JSON.stringify(schedule.runSpec)),
      JSON.stringify(schedule.catchUp),
      schedule.overlap,
      schedule.enabled,
      schedule.nextTickAt,
      schedule.fingerprint,
      now,
      params.onlyIfChanged,
    ])
    if (row) return { schedule: scheduleFromRow(row), outcome: row.inserted ? 'created' : 'updated' }
    // The fingerprint matched: nothing was written.
    const current = await this.get(schedule.key)
    if (!current) throw new Error(`Schedule "${schedule.key}" vanished during its upsert`)
    return { schedule: current, outcome: 'unchanged' }
  }

  async get(key: string): Promise<ScheduleRecord | null> {
    await this.host.ready()
    const [row] = await this.host.rows<ScheduleRow>(this.sql.get, [key])
    return row ? scheduleFromRow(row) : null
  }

  async list(params: ScheduleListParams): Promise<ScheduleRecord[]> {
    await this.host.ready()
    return (await this.host.rows<ScheduleRow>(this.sql.list, [params.after ?? null, params.limit ?? null])).map(scheduleFromRow)
  }

  async setEnabled(params: ScheduleSetEnabledParams): Promise<ScheduleRecord | null> {
    await this.host.ready()
    const [row] = await this.host.rows<ScheduleRow>(this.sql.setEnabled, [params.key, params.enabled, params.nextTickAt, params.now])
    return row ? scheduleFromRow(row) : null
  }

  async remove(key: string): Promise<boolean> {
    await this.host.ready()
    return (await this.host.rows<{ key: string }>(this.sql.remove, [key])).length > 0
  }

  async peek(): Promise<SchedulePeekResult> {
    await this.host.ready()
    const [row] = await this.host.rows<{ next_tick_at: Num | null; held: boolean }>(this.sql.peek, [])
    const next = row?.next_tick_at ?? null
    return { nextTickAt: next === null ? null : new Date(Number(next)), heldRuns: row?.held === true }
  }

  /**
   * One transaction: lock the due schedules (skipping those another process holds), plan
   * each, insert every run in one statement, advance every schedule in one statement.
   */
  async tickDue<W extends ScheduleTickWrite>(params: ScheduleTickDueParams<W>): Promise<Array<ScheduleTickResult<W>>> {
    await this.host.ready()
    return withTransaction(this.host.pool, async (client) => {
      const due = (await client.query<ScheduleRow & { has_unfinished: boolean }>(this.sql.selectDue, [params.now, params.limit])).rows
      const planned: Array<{ schedule: DueSchedule; expected: Num | null; write: W }> = []
      for (const row of due) {
        const schedule: DueSchedule = { ...scheduleFromRow(row), hasUnfinishedRun: row.has_unfinished }
        const write = params.plan(schedule)
        if (write) planned.push({ schedule, expected: row.next_tick_at, write })
      }
      if (planned.length === 0) return []
      const inserted = await this.host.insertRuns(client, planned.flatMap((item) => item.write.runs), params.now)
      let offset = 0
      const results = planned.map(({ schedule, write }) => {
        const runs = inserted.slice(offset, (offset += write.runs.length))
        return { schedule, write, runs }
      })
      const advanced = await client.query(this.sql.advance, advanceArrays(planned, results))
      // Under the row lock nothing else can have moved a next tick; if something did, roll back rather than tick twice.
      if (advanced.rowCount !== planned.length) throw new Error('A schedule changed during its tick pass')
      return results
    })
  }

  async releaseHeld(params: ScheduleReleaseHeldParams): Promise<Array<{ id: string; scheduleKey: string }>> {
    await this.host.ready()
    const rows = await this.host.rows<{ id: string; schedule_key: string }>(this.sql.releaseHeld, [params.now, params.limit])
    if (rows.length > 0) await this.host.notifyRunsAvailable()
    return rows.map((row) => ({ id: row.id, scheduleKey: row.schedule_key }))
  }
}

function advanceArrays<W extends ScheduleTickWrite>(
  planned: Array<{ schedule: DueSchedule; expected: Num | null }>,
  results: Array<ScheduleTickResult<W>>,
): unknown[] {
  const iso = (date: Date | null | undefined) => date?.toISOString() ?? null
  return [
    planned.map((item) => item.schedule.key),
    planned.map((item) => (item.expected === null ? null : new Date(Number(item.expected)).toISOString())),
    results.map((result) => iso(result.write.nextTickAt)),
    results.map((result) => iso(result.write.lastTick?.at)),
    results.map((result) => result.write.lastTick?.outcome ?? null),
    results.map((result) => result.runs[result.runs.length - 1]?.run.id ?? null),
  ]
}

function scheduleFromRow(row: ScheduleRow): ScheduleRecord {
  const toDate = (value: Num | null) => (value === null ? null : new Date(Number(value)))
  return {
    key: row.key,
    task: row.task,
    cron: row.cron,
    timezone: row.timezone,
    payload: fromJsonbText(row.payload),
    options: fromJsonbText(row.options) as Record<string, unknown>,
    runSpec: fromJsonbText(row.run_spec) as ScheduleRunSpec,
    catchUp: fromJsonbText(row.catch_up) as CatchUp,
    overlap: row.overlap as Overlap,
    enabled: row.enabled,
    nextTickAt: toDate(row.next_tick_at),
    lastTickAt: toDate(row.last_tick_at),
    lastTickOutcome: row.last_tick_outcome as TickOutcome | null,
    lastRunId: row.last_run_id,
    fingerprint: row.fingerprint,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  }
}
