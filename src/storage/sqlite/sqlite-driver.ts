import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { StoreClosedError } from '../../core/errors.js'
import type { Attempt, AttemptOutcome, RunLog, Step } from '../../core/run.js'
import type {
  RunActivityBucket,
  RunActivityParams,
  RunChange,
  RunCountRow,
  RunListChangedParams,
} from '../driver.js'
import type {
  AttemptResult,
  LogAppendParams,
  LogListParams,
  RescuedRun,
  RunCancelByJobKeyParams,
  RunCancelParams,
  RunCancelResult,
  RunClaimParams,
  RunFinishManyParams,
  RunHeartbeatParams,
  RunInsertManyParams,
  RunInsertResult,
  RunListParams,
  RunListResult,
  RunPromoteDueParams,
  RunPruneParams,
  RunRecord,
  RunProgressSetParams,
  RunRescueExpiredParams,
  RunWatchFinishedParams,
  ScheduleRecord,
  ScheduleReleaseHeldParams,
  SchedulePeekResult,
  ScheduleSetEnabledParams,
  ScheduleTickDueParams,
  ScheduleTickResult,
  ScheduleTickWrite,
  ScheduleListParams,
  ScheduleUpsertParams,
  ScheduleUpsertResult,
  StepSaveParams,
  StoreDriver,
} from '../driver.js'
import { SqliteChangeWatcher } from './change-watcher.js'
import { SqliteRunInserter } from './insert.js'
import { SQLITE_MIGRATIONS } from './migrations.js'
import {
  attemptFromRow,
  attemptOnRun,
  logFromRow,
  runFromRow,
  stepFromRow,
  type AttemptRow,
  type LogRow,
  type RunRow,
  type StepRow,
} from './rows.js'
import { SqliteSchedules } from './schedules.js'
import { SqliteInsights } from './insights.js'
import { listRuns } from './run-list.js'
import { SqliteStatements } from './statements.js'
import { SqliteStepStatements } from './step-statements.js'

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file. Default `./errand.db`. `':memory:'` works for one process only. */
  path?: string
  /**
   * `'full'` (default) syncs every commit to disk: an acknowledged enqueue survives a power
   * loss. `'normal'` is several times faster in WAL mode but may lose the last commits on
   * power loss (never on a process crash).
   */
  synchronous?: 'full' | 'normal'
  /**
   * How long one try of a write waits for another process's lock, in ms. Default 100. The
   * wait blocks the event loop (SQLite calls are synchronous), so it is kept short: after
   * it, the store yields and tries again with backoff (for about 15 s in all), and timers,
   * heartbeats and I/O run in between.
   */
  busyTimeoutMs?: number
  /**
   * How often an idle worker or a wait checks whether another process committed to the
   * file, in ms: runs enqueued elsewhere start, and waits for runs finished elsewhere
   * return, within about this long instead of at the next poll.
   * Default 5 (a check costs a few microseconds: under 0.1% of a core); `0` turns it off (the
   * poll alone finds them).
   */
  watchIntervalMs?: number
}

const LEASE_EXPIRED_ERROR = JSON.stringify({ name: 'LeaseExpiredError', code: 'lease_lost', message: 'The worker stopped renewing its lease (it crashed, hung or lost the database)' })

const ATTEMPT_OUTCOME: Record<AttemptResult['outcome'], AttemptOutcome> = {
  completed: 'completed',
  retry: 'failed',
  dead_lettered: 'failed',
  released: 'released',
  sleep: 'slept',
}

/** The embedded store: one SQLite file, shared safely by any number of processes on one machine. */
export class SqliteDriver implements StoreDriver {
  readonly dialect = 'sqlite'
  readonly path: string
  private readonly db: Database.Database
  private readonly sql: SqliteStatements
  private readonly inserter: SqliteRunInserter
  private readonly schedules: SqliteSchedules
  private readonly steps: SqliteStepStatements
  private readonly insights: SqliteInsights
  private readonly watcher: SqliteChangeWatcher | null
  private migrated = false
  private closed = false

  constructor(options: SqliteStoreOptions = {}) {
    this.path = options.path ?? './errand.db'
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true })
    this.db = new Database(this.path)
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 100))}`)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
    // Statement journals (every write to errand_runs needs one: its counter triggers) and
    // temporary sort trees in memory, not in temporary files: inserting runs went from about
    // 20,000 to 40,000 per second with this alone.
    this.db.pragma('temp_store = MEMORY')
    this.migrateNow()
    this.sql = new SqliteStatements(this.db)
    this.inserter = new SqliteRunInserter(this.db, this.sql)
    this.schedules = new SqliteSchedules({
      db: this.db,
      write: (fn) => this.write(fn),
      read: (fn) => (this.assertOpen(), fn()),
      insertRun: (run, now) => this.inserter.insert(run, now),
    })
    this.steps = new SqliteStepStatements(this.db)
    this.insights = new SqliteInsights(this.db)
    const watchIntervalMs = options.watchIntervalMs ?? 5
    this.watcher =
      watchIntervalMs > 0 && this.path !== ':memory:'
        ? new SqliteChangeWatcher({
            readVersion: () => this.sql.dataVersion.get() as number,
            anyDue: () => this.sql.anyDue.get(Date.now()) !== undefined,
            finishedAmong: (ids) => this.sql.finishedAmong.all(JSON.stringify(ids)) as string[],
            intervalMs: watchIntervalMs,
            // A failed check (the file is locked for a schema change, say) only delays a hint.
            onError: () => {},
          })
        : null
  }

  subscribeRunsAvailable(listener: () => void): () => void {
    return this.watcher && !this.closed ? this.watcher.subscribe(listener) : () => {}
  }

  async watchRunFinished(params: RunWatchFinishedParams): Promise<(() => void) | null> {
    if (!this.watcher) return null
    this.assertOpen()
    return this.watcher.watchFinished(params.id, params.onFinished)
  }

  async migrate(): Promise<void> {
    this.migrateNow()
  }

  private migrateNow(): void {
    if (this.migrated) return
    this.withBusyRetrySync(() =>
      this.db
        .transaction(() => {
          this.db.exec('CREATE TABLE IF NOT EXISTS errand_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
          const applied = new Set(
            (this.db.prepare('SELECT version FROM errand_migrations').all() as Array<{ version: number }>).map((row) => row.version),
          )
          for (const migration of SQLITE_MIGRATIONS) {
            if (applied.has(migration.version)) continue
            this.db.exec(migration.sql)
            this.db.prepare('INSERT INTO errand_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now())
          }
        })
        .immediate(),
    )
    this.migrated = true
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.watcher?.close()
    this.db.close()
  }

  async runInsertMany(params: RunInsertManyParams): Promise<RunInsertResult[]> {
    return this.write(() => params.runs.map((run) => this.inserter.insert(run, params.now.getTime())))
  }

  async runGet(params: { id: string }): Promise<RunRecord | null> {
    this.assertOpen()
    const row = this.sql.getRun.get(params.id) as RunRow | undefined
    return row ? runFromRow(row) : null
  }

  async runList(params: RunListParams): Promise<RunListResult> {
    this.assertOpen()
    return listRuns(this.db, params)
  }

  async runClaim(params: RunClaimParams): Promise<RunRecord[]> {
    if (params.limit <= 0 || params.tasks.length === 0) return []
    const now = params.now.getTime()
    const rows = await this.write(
      () =>
        this.sql.claim.all({
          now,
          lease: now + params.leaseMs,
          worker: params.workerId,
          tasks: JSON.stringify(params.tasks),
          forbidden: params.forbiddenFlags?.length ? JSON.stringify(params.forbiddenFlags) : null,
          queues: params.queues ? JSON.stringify(params.queues) : null,
          limit: params.limit,
        }) as RunRow[],
    )
    return rows.map(runFromRow).sort(claimOrder)
  }

  async runHeartbeat(params: RunHeartbeatParams): Promise<string[]> {
    if (params.leases.length === 0) return []
    const lease = params.now.getTime() + params.leaseMs
    return this.write(() =>
      params.leases
        .filter((held) => this.sql.heartbeat.run(lease, params.now.getTime(), held.id, held.attempt).changes === 0)
        .map((held) => held.id),
    )
  }

  async runFinishMany(params: RunFinishManyParams): Promise<boolean[]> {
    if (params.results.length === 0) return []
    const now = params.now.getTime()
    return this.write(() => params.results.map((result) => this.finishOne(result, now)))
  }

  private finishOne(result: AttemptResult, now: number): boolean {
    const fence = { id: result.id, attempt: result.attempt, now }
    const remainder = result.outcome === 'retry' || result.outcome === 'dead_lettered' ? { payload: result.payloadJson ?? null, output: result.outputJson ?? null } : {}
    let row: { locked_at: number } | undefined
    switch (result.outcome) {
      case 'completed':
        // Not `{ ...fence, output }`: a spread followed by more properties is slow in V8 (see attemptResultOf).
        row = this.sql.finishCompleted.get({ id: result.id, attempt: result.attempt, now, output: result.outputJson }) as typeof row
        break
      case 'retry':
        row = this.sql.finishRetry.get({ ...fence, ...remainder, error: JSON.stringify(result.error), runAt: now + result.delayMs }) as typeof row
        break
      case 'dead_lettered':
        row = this.sql.finishDeadLettered.get({ ...fence, ...remainder, error: JSON.stringify(result.error) }) as typeof row
        break
      case 'released':
        row = this.sql.finishReleased.get({ ...fence, error: JSON.stringify(result.error) }) as typeof row
        break
      case 'sleep':
        row = this.sql.finishSleep.get({ ...fence, runAt: result.runAt.getTime() }) as typeof row
        break
    }
    if (!row) return false
    // A completed attempt is read off the run (attemptOnRun): no record is written.
    if (result.outcome === 'completed') return true
    const error = 'error' in result ? JSON.stringify(result.error) : null
    const outcome = ATTEMPT_OUTCOME[result.outcome]
    this.sql.insertAttempt.run(result.id, result.attempt, result.workerId, row.locked_at, now, outcome, error)
    return true
  }

  async runCancel(params: RunCancelParams): Promise<RunCancelResult | null> {
    const now = params.now.getTime()
    return this.write(() => {
      const before = this.sql.getRun.get(params.id) as RunRow | undefined
      if (!before) return null
      const after = this.sql.cancel.get({ reason: params.reason, now, id: params.id }) as RunRow | undefined
      if (!after) return { run: runFromRow(before), cancelled: false }
      if (before.status === 'running' && before.locked_at !== null) {
        const error = JSON.stringify({ name: 'RunCancelledError', code: 'run_cancelled', message: params.reason ?? 'Cancelled' })
        this.sql.insertAttempt.run(before.id, before.attempt, before.locked_by, before.locked_at, now, 'cancelled', error)
      }
      return { run: runFromRow(after), cancelled: true }
    })
  }

  async runCancelByJobKey(params: RunCancelByJobKeyParams): Promise<RunCancelResult | null> {
    return this.write(() => this.inserter.cancelByJobKey(params))
  }

  async runPromoteDue(params: RunPromoteDueParams): Promise<number> {
    return this.write(() => this.sql.promoteDue.run({ now: params.now.getTime(), limit: params.limit }).changes)
  }

  async runRescueExpired(params: RunRescueExpiredParams): Promise<RescuedRun[]> {
    const now = params.now.getTime()
    return this.write(() => {
      const expired = this.sql.findExpired.all(now, params.limit) as RunRow[]
      const rescued: RescuedRun[] = []
      for (const run of expired) {
        const row = this.sql.rescue.get({ id: run.id, attempt: run.attempt, now, error: LEASE_EXPIRED_ERROR }) as { status: string } | undefined
        if (!row) continue
        this.sql.insertAttempt.run(run.id, run.attempt, run.locked_by, run.locked_at ?? now, now, 'lease_expired', LEASE_EXPIRED_ERROR)
        rescued.push({ id: run.id, attempt: run.attempt, status: row.status as RescuedRun['status'] })
      }
      return rescued
    })
  }

  async runPrune(params: RunPruneParams): Promise<number> {
    return this.write(() => {
      const ids = (this.sql.findPrunable.all(params.finishedBefore.getTime(), params.limit) as Array<{ id: string }>).map((row) => row.id)
      if (ids.length === 0) return 0
      const list = JSON.stringify(ids)
      this.sql.pruneAttempts.run(list)
      this.steps.pruneSteps.run(list)
      this.steps.pruneLogs.run(list)
      return this.sql.pruneRuns.run(list).changes
    })
  }

  async attemptList(params: { runId: string }): Promise<Attempt[]> {
    this.assertOpen()
    const rows = this.sql.listAttempts.all(params.runId) as AttemptRow[]
    const attempts = rows.map(attemptFromRow)
    const run = this.sql.getRun.get(params.runId) as RunRow | undefined
    const onRun = run ? attemptOnRun(run, attempts) : null
    if (onRun) attempts.push(onRun)
    return attempts
  }

  scheduleUpsert(params: ScheduleUpsertParams): Promise<ScheduleUpsertResult> {
    return this.schedules.upsert(params)
  }

  async scheduleGet(params: { key: string }): Promise<ScheduleRecord | null> {
    return this.schedules.get(params.key)
  }

  async scheduleList(params: ScheduleListParams): Promise<ScheduleRecord[]> {
    return this.schedules.list(params)
  }

  scheduleSetEnabled(params: ScheduleSetEnabledParams): Promise<ScheduleRecord | null> {
    return this.schedules.setEnabled(params)
  }

  scheduleDelete(params: { key: string }): Promise<boolean> {
    return this.schedules.remove(params.key)
  }

  async schedulePeek(): Promise<SchedulePeekResult> {
    return this.schedules.peek()
  }

  scheduleTickDue<W extends ScheduleTickWrite>(params: ScheduleTickDueParams<W>): Promise<Array<ScheduleTickResult<W>>> {
    return this.schedules.tickDue(params)
  }

  scheduleReleaseHeld(params: ScheduleReleaseHeldParams): Promise<Array<{ id: string; scheduleKey: string }>> {
    return this.schedules.releaseHeld(params)
  }

  async stepList(params: { runId: string }): Promise<Step[]> {
    this.assertOpen()
    return (this.steps.listSteps.all(params.runId) as StepRow[]).map(stepFromRow)
  }

  async stepSave(params: StepSaveParams): Promise<boolean> {
    const values = { ...params, output: params.outputJson, wakeAt: params.wakeAt?.getTime() ?? null, now: params.now.getTime() }
    return this.write(() => this.steps.saveStep.run(values).changes === 1)
  }

  async runProgressSet(params: RunProgressSetParams): Promise<boolean> {
    const values = { id: params.id, attempt: params.attempt, progress: params.progressJson, now: params.now.getTime() }
    return this.write(() => this.steps.setProgress.run(values).changes === 1)
  }

  async logAppend(params: LogAppendParams): Promise<void> {
    if (params.entries.length === 0) return
    await this.write(() => {
      for (const entry of params.entries) this.steps.appendLog.run({ ...entry, at: entry.at.getTime(), data: entry.dataJson })
    })
  }

  async logList(params: LogListParams): Promise<RunLog[]> {
    this.assertOpen()
    return (this.steps.listLogs.all(params.runId, params.limit) as LogRow[]).map(logFromRow)
  }

  async runCountByStatus(): Promise<RunCountRow[]> {
    this.assertOpen()
    return this.insights.countByStatus()
  }

  async runActivity(params: RunActivityParams): Promise<RunActivityBucket[]> {
    this.assertOpen()
    return this.insights.activityOf(params)
  }

  async runListChanged(params: RunListChangedParams): Promise<RunChange[]> {
    this.assertOpen()
    return this.insights.listChanged(params)
  }

  /**
   * Runs `fn` in a `BEGIN IMMEDIATE` transaction. `busy_timeout` makes SQLite wait for
   * another process's lock; if it still reports busy, we back off without blocking the
   * event loop and try again, so callers never see SQLITE_BUSY.
   */
  private async write<T>(fn: () => T): Promise<T> {
    this.assertOpen()
    const tx = this.db.transaction(fn)
    for (let attempt = 0; ; attempt++) {
      try {
        return tx.immediate()
      } catch (error) {
        if (!isBusy(error) || attempt >= 50) throw error
        await sleep(Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random()))
        this.assertOpen()
      }
    }
  }

  private withBusyRetrySync(fn: () => void): void {
    for (let attempt = 0; ; attempt++) {
      try {
        return fn()
      } catch (error) {
        if (!isBusy(error) || attempt >= 50) throw error
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError()
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED'
}

function claimOrder(a: RunRecord, b: RunRecord): number {
  return a.priority - b.priority || a.runAt.getTime() - b.runAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}
