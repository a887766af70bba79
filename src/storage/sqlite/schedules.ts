import type Database from 'better-sqlite3'
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
import { SqliteScheduleStatements } from './schedule-statements.js'

/** A row of `errand_schedules`. */
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
  enabled: number
  next_tick_at: number | null
  last_tick_at: number | null
  last_tick_outcome: string | null
  last_run_id: string | null
  fingerprint: string
  created_at: number
  updated_at: number
}

/** What the schedule methods borrow from the driver: its write transaction and run insert. */
export interface SqliteScheduleHost {
  db: Database.Database
  write<T>(fn: () => T): Promise<T>
  read<T>(fn: () => T): T
  insertRun(run: NewRun, now: number): RunInsertResult
}

/** The schedule methods of the SQLite driver. Every write runs under BEGIN IMMEDIATE. */
export class SqliteSchedules {
  private readonly sql: SqliteScheduleStatements

  constructor(private readonly host: SqliteScheduleHost) {
    this.sql = new SqliteScheduleStatements(host.db)
  }

  upsert(params: ScheduleUpsertParams): Promise<ScheduleUpsertResult> {
    const { schedule, now } = params
    return this.host.write(() => {
      const before = this.sql.get.get(schedule.key) as ScheduleRow | undefined
      const row = this.sql.upsert.get({
        key: schedule.key,
        task: schedule.task,
        cron: schedule.cron,
        timezone: schedule.timezone,
        payload: schedule.payloadJson,
        options: schedule.optionsJson,
        runSpec: JSON.stringify(schedule.runSpec),
        catchUp: JSON.stringify(schedule.catchUp),
        overlap: schedule.overlap,
        enabled: schedule.enabled === null ? null : Number(schedule.enabled),
        nextTickAt: schedule.nextTickAt?.getTime() ?? null,
        fingerprint: schedule.fingerprint,
        onlyIfChanged: Number(params.onlyIfChanged),
        now: now.getTime(),
      }) as ScheduleRow | undefined
      if (!before) return { schedule: scheduleFromRow(row as ScheduleRow), outcome: 'created' as const }
      return row ? { schedule: scheduleFromRow(row), outcome: 'updated' as const } : { schedule: scheduleFromRow(before), outcome: 'unchanged' as const }
    })
  }

  get(key: string): ScheduleRecord | null {
    const row = this.host.read(() => this.sql.get.get(key) as ScheduleRow | undefined)
    return row ? scheduleFromRow(row) : null
  }

  list(params: ScheduleListParams): ScheduleRecord[] {
    return this.host.read(() => (this.sql.list.all({ after: params.after ?? null, limit: params.limit ?? -1 }) as ScheduleRow[]).map(scheduleFromRow))
  }

  setEnabled(params: ScheduleSetEnabledParams): Promise<ScheduleRecord | null> {
    return this.host.write(() => {
      const row = this.sql.setEnabled.get({
        key: params.key,
        enabled: Number(params.enabled),
        nextTickAt: params.nextTickAt?.getTime() ?? null,
        now: params.now.getTime(),
      }) as ScheduleRow | undefined
      return row ? scheduleFromRow(row) : null
    })
  }

  remove(key: string): Promise<boolean> {
    return this.host.write(() => this.sql.remove.run(key).changes > 0)
  }

  peek(): SchedulePeekResult {
    const row = this.host.read(() => this.sql.peek.get() as { next_tick_at: number | null; held: number })
    return { nextTickAt: row.next_tick_at === null ? null : new Date(row.next_tick_at), heldRuns: row.held === 1 }
  }

  tickDue<W extends ScheduleTickWrite>(params: ScheduleTickDueParams<W>): Promise<Array<ScheduleTickResult<W>>> {
    const now = params.now.getTime()
    // BEGIN IMMEDIATE holds the database's write lock from the select on, so no other
    // process can read the same due schedules before this pass has advanced them.
    return this.host.write(() => {
      const results: Array<ScheduleTickResult<W>> = []
      for (const row of this.sql.selectDue.all(now, params.limit) as Array<ScheduleRow & { has_unfinished: number }>) {
        const schedule: DueSchedule = { ...scheduleFromRow(row), hasUnfinishedRun: row.has_unfinished === 1 }
        const write = params.plan(schedule)
        if (!write) continue
        const runs = write.runs.map((run) => this.host.insertRun(run, now))
        const advanced = this.sql.advance.run({
          key: schedule.key,
          expected: row.next_tick_at,
          nextTickAt: write.nextTickAt?.getTime() ?? null,
          lastTickAt: write.lastTick?.at.getTime() ?? null,
          lastTickOutcome: write.lastTick?.outcome ?? null,
          lastRunId: runs[runs.length - 1]?.run.id ?? null,
        }).changes
        if (advanced !== 1) throw new Error(`Schedule "${schedule.key}" changed during its tick pass`)
        results.push({ schedule, write, runs })
      }
      return results
    })
  }

  releaseHeld(params: ScheduleReleaseHeldParams): Promise<Array<{ id: string; scheduleKey: string }>> {
    return this.host.write(() =>
      (this.sql.releaseHeld.all({ now: params.now.getTime(), limit: params.limit }) as Array<{ id: string; schedule_key: string }>).map((row) => ({
        id: row.id,
        scheduleKey: row.schedule_key,
      })),
    )
  }
}

function scheduleFromRow(row: ScheduleRow): ScheduleRecord {
  const toDate = (ms: number | null) => (ms === null ? null : new Date(ms))
  return {
    key: row.key,
    task: row.task,
    cron: row.cron,
    timezone: row.timezone,
    payload: JSON.parse(row.payload),
    options: JSON.parse(row.options) as Record<string, unknown>,
    runSpec: JSON.parse(row.run_spec) as ScheduleRunSpec,
    catchUp: JSON.parse(row.catch_up) as CatchUp,
    overlap: row.overlap as Overlap,
    enabled: row.enabled === 1,
    nextTickAt: toDate(row.next_tick_at),
    lastTickAt: toDate(row.last_tick_at),
    lastTickOutcome: row.last_tick_outcome as TickOutcome | null,
    lastRunId: row.last_run_id,
    fingerprint: row.fingerprint,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  }
}
