import { createHash, randomBytes } from 'node:crypto'
import pg from 'pg'
import { InvalidOptionError, StoreClosedError } from '../../core/errors.js'
import type { Attempt, RunLog, Step } from '../../core/run.js'
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
  NewRun,
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
import { runIdFloor } from '../driver.js'
import { ClaimPlans } from './claim-plans.js'
import { PostgresInsights } from './insights.js'
import { applyMigrations } from './migrate.js'
import { notificationPayload, PostgresNotifier, RUNS_AVAILABLE_CHANNEL } from './notifier.js'
import { insertKeyed, insertPlain, JobKeyStatements, type RowExec } from './insert.js'
import { GROUP_BUCKETS, GROUP_DROP_EVERY_MS, GROUP_DROP_LIMIT, GROUP_REPAIR_AFTER_MS, GroupDropStatements } from './groups.js'
import { PlannerStatsBootstrap } from './planner-stats.js'
import { finishArrays } from './params.js'
import { isQueryable, rowsOf, withTransaction, type Queryable } from './queryable.js'
import { listRuns } from './run-list.js'
import { attemptFromRow, runFromRow, type AttemptRow, type RunRow } from './rows.js'
import { PostgresSchedules } from './schedules.js'
import { checkSchemaName, quoteIdent } from './schema-name.js'
import { statementName } from './statement-name.js'
import { PostgresStatements } from './statements.js'
import { PostgresSteps } from './steps.js'

/** Where the store connects: a connection string (the store owns its pool) or your own pool (left open on close). */
export type PostgresConnection = { connectionString: string; pool?: undefined } | { pool: pg.Pool; connectionString?: undefined }

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /** Schema holding errand's tables; created by the migrations if missing. Default `'errand'`. */
  schema?: string
  /** Most connections of the pool the store creates from a connection string. Default 10. */
  maxConnections?: number
  /**
   * Send NOTIFY when runs are enqueued and LISTEN for it, so idle workers start new runs
   * within milliseconds instead of at their next poll; and LISTEN for the finish of runs
   * this store waits for (`enqueueAndWait`, `wait()`), so a wait returns as soon as another
   * process finishes the run. The LISTEN side holds one pool connection while a worker runs
   * or a wait is in progress. `false` (e.g. behind a pooler in transaction mode, where
   * LISTEN does not work): workers and waits poll. Default `true`.
   */
  notify?: boolean
  /**
   * Notifications arriving within this window after a wake-up wake a worker once more, at
   * the window's end, in ms. Default 5: a burst of inserts costs a worker at most 200
   * wake-ups a second, while runs arriving further apart than that start at once (a longer
   * window delays every run of a steady stream by up to its length).
   */
  notifyThrottleMs?: number
  /**
   * Name the store's statements, so each connection parses and plans them once (prepared
   * statements). `false` behind a pooler in transaction mode that does not keep prepared
   * statements apart per client (PgBouncer before 1.21, or without
   * `max_prepared_statements`): every statement is then sent as text, parsed and planned
   * each time. Default `true`.
   */
  prepare?: boolean
  /**
   * Errors of background connections (the LISTEN connection, idle pool connections). They
   * never lose runs: the poll carries on and the connection is re-established. Default: ignored.
   */
  onError?: (error: unknown) => void
}

const LEASE_EXPIRED_ERROR = JSON.stringify({ name: 'LeaseExpiredError', code: 'lease_lost', message: 'The worker stopped renewing its lease (it crashed, hung or lost the database)' })
const FINAL_STATUSES = new Set(['completed', 'cancelled', 'dead_lettered'])
/** How long after a wait's mark a run not yet started is announced again; see `watchRunFinished`. A claim usually takes 2-4 ms. */
const REANNOUNCE_AFTER_MS = 10
/**
 * How often upkeep (runUpkeep) also looks for key places no path gave back (releaseStale). It
 * checks every holder of every key in use (170 ms with 1,000 keys held, measured), and
 * such places come only from processes of earlier versions or writes from outside.
 */
const STALE_HOLDERS_EVERY_MS = 60_000

/** The PostgreSQL store: any number of worker processes on any number of machines. */
export class PostgresDriver implements StoreDriver {
  readonly dialect = 'postgres'
  readonly schema: string
  private readonly pool: pg.Pool
  private readonly ownsPool: boolean
  private readonly notifyEnabled: boolean
  private readonly prepareStatements: boolean
  /** Tags this driver's NOTIFYs, so its own listener can skip them. */
  private readonly sender = randomBytes(8).toString('hex')
  private readonly sql: PostgresStatements
  private readonly keySql: JobKeyStatements
  private readonly groupSql: GroupDropStatements
  private readonly notifier: PostgresNotifier | null
  private readonly schedules: PostgresSchedules
  private readonly plannerStats: PlannerStatsBootstrap
  private readonly steps: PostgresSteps
  private readonly insights: PostgresInsights
  private readonly claimPlans: ClaimPlans
  private migration: Promise<void> | null = null
  private closed = false
  private staleHoldersCheckedAt = -Infinity
  private readonly onError: (error: unknown) => void

  constructor(connection: PostgresConnection, options: PostgresStoreOptions = {}) {
    this.schema = checkSchemaName(options.schema ?? 'errand')
    const onError = options.onError ?? (() => {})
    this.onError = onError
    if (connection?.pool) {
      this.pool = connection.pool
      this.ownsPool = false
    } else if (typeof connection?.connectionString === 'string') {
      this.pool = new pg.Pool({
        connectionString: connection.connectionString,
        max: options.maxConnections ?? 10,
        keepAlive: true,
        // JIT compiles any statement estimated above jit_above_cost, and a claim of a few
        // thousand runs from a large backlog is: 130 ms of compiling on a 100 ms claim
        // (measured: 3,000 runs from 110,000 queued). Every statement here is short, so the
        // compile is never paid back. The pool awaits this before it hands the client out.
        onConnect: async (client: pg.ClientBase) => {
          await client.query('SET jit = off')
        },
      })
      this.ownsPool = true
      // An idle connection that drops emits 'error' on the pool; unheard, it would crash the process.
      this.pool.on('error', onError)
    } else {
      throw new InvalidOptionError('postgresStore needs { connectionString } or { pool }')
    }
    this.notifyEnabled = options.notify ?? true
    this.prepareStatements = options.prepare ?? true
    this.sql = new PostgresStatements(quoteIdent(this.schema), this.notifyEnabled)
    this.keySql = new JobKeyStatements(quoteIdent(this.schema), this.notifyEnabled)
    this.groupSql = new GroupDropStatements(quoteIdent(this.schema))
    this.steps = new PostgresSteps(quoteIdent(this.schema), (text, values) => this.rows(text, values))
    this.insights = new PostgresInsights(quoteIdent(this.schema), (text, values) => this.rows(text, values, false))
    this.claimPlans = new ClaimPlans((tasks) => this.insights.queuedRunCounts(tasks), onError)
    this.notifier = this.notifyEnabled
      ? new PostgresNotifier({ pool: this.pool, schema: this.schema, sender: this.sender, throttleMs: options.notifyThrottleMs ?? 5, onError })
      : null
    this.schedules = new PostgresSchedules(
      {
        pool: this.pool,
        schema: this.schema,
        ready: () => this.ready(),
        rows: (text, values) => this.rows(text, values),
        // Inside the tick's own transaction; no sender, so this process's workers hear the NOTIFY too.
        insertRuns: (client, runs, now) => this.insertOn(client, runs, now, false),
        notifyRunsAvailable: () => this.notifyRunsAvailable(),
      },
      quoteIdent(this.schema),
    )
    this.plannerStats = new PlannerStatsBootstrap(this.pool, this.schema, quoteIdent(this.schema), onError)
  }

  /** Applies pending migrations once per driver; a failed attempt is retried on the next call. */
  migrate(): Promise<void> {
    this.assertOpen()
    this.migration ??= applyMigrations(this.pool, this.schema).catch((error: unknown) => {
      this.migration = null
      throw error
    })
    return this.migration
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.notifier?.close()
    await this.migration?.catch(() => {})
    if (this.ownsPool) await this.pool.end()
  }

  subscribeRunsAvailable(listener: () => void): () => void {
    return this.notifier && !this.closed ? this.notifier.subscribeRunsAvailable(listener) : () => {}
  }

  /**
   * LISTEN first, then mark the run `waited` (its trigger notifies the finish of marked runs
   * only): a finish committed before the mark is seen by the caller's next read, one after
   * it is notified. Null when notifications are off.
   *
   * A claim that meets the mark's row lock skips the run (SKIP LOCKED), and may find
   * nothing else to do and no wake-up to come: an enqueue followed at once by a wait, on an
   * idle worker, used to wait for the poll. So a run marked before it started, and still
   * not started a moment later, is announced again (with no sender, so this process's
   * workers hear it too). Waiting that moment spares the NOTIFY, and a claim in every
   * listening worker, for the runs a claim took at once: nearly all of them.
   */
  async watchRunFinished(params: RunWatchFinishedParams): Promise<(() => void) | null> {
    await this.ready()
    if (!this.notifier) return null
    const stop = await this.notifier.watchRunFinished(params.id, params.onFinished)
    let marked: Array<{ status: string }>
    try {
      marked = await this.rows<{ status: string }>(this.sql.markWaited, [params.id])
    } catch (error) {
      stop()
      throw error
    }
    if (!marked.some((row) => row.status === 'queued' || row.status === 'scheduled')) return stop
    const recheck = setTimeout(() => {
      const values = [params.id, RUNS_AVAILABLE_CHANNEL, notificationPayload(this.schema, null)]
      if (!this.closed) this.rows(this.sql.announceIfNotStarted, values).catch(this.onError)
    }, REANNOUNCE_AFTER_MS)
    recheck.unref()
    return () => {
      clearTimeout(recheck)
      stop()
    }
  }

  async runInsertMany(params: RunInsertManyParams): Promise<RunInsertResult[]> {
    if (params.runs.length === 0) return []
    await this.ready()
    if (params.tx === undefined || params.tx === null) {
      // One statement is atomic on its own; job keys take several, in order, so a batch
      // holding one gets a transaction of its own (all or nothing, as for any batch).
      const single = params.runs.length === 1 || params.runs.every((run) => run.jobKey === null)
      const results = single
        ? await this.insertOn(this.pool, params.runs, params.now, true)
        : await withTransaction(this.pool, (client) => this.insertOn(client, params.runs, params.now, true))
      this.plannerStats.noteInserted(results.filter((result) => result.created).length)
      return results
    }
    if (!isQueryable(params.tx)) {
      throw new InvalidOptionError('tx must be a client inside your transaction with query(text, values), such as a pg PoolClient after BEGIN')
    }
    // The caller's transaction: no BEGIN/COMMIT of ours; the runs exist iff it commits.
    return this.insertOn(params.tx, params.runs, params.now, false)
  }

  /** Runs without a job key in one statement, then each run with one, in order. */
  private async insertOn(client: Queryable, runs: NewRun[], now: Date, prepared: boolean): Promise<RunInsertResult[]> {
    const exec: RowExec = async (text, values) => rowsOf<RunRow>(await this.exec(client, text, values, prepared))
    // On our own connections the NOTIFY names this driver as sender (its workers were woken
    // in-process); on a caller's transaction, or a tick's, no sender, so ours hear the commit too.
    const notifyArgs = this.notifyEnabled ? [RUNS_AVAILABLE_CHANNEL, notificationPayload(this.schema, prepared ? this.sender : null)] : []
    const results: RunInsertResult[] = new Array(runs.length)
    const plain = runs.flatMap((run, index) => (run.jobKey === null ? [{ run, index }] : []))
    if (plain.length > 0) {
      const inserted = await insertPlain(exec, this.sql, plain.map((item) => item.run), now, notifyArgs)
      plain.forEach((item, i) => (results[item.index] = inserted[i] as RunInsertResult))
    }
    for (const [index, run] of runs.entries()) {
      if (run.jobKey !== null) results[index] = await insertKeyed(exec, this.keySql, run, now, notifyArgs)
    }
    return results
  }

  async runGet(params: { id: string }): Promise<RunRecord | null> {
    await this.ready()
    const [row] = await this.rows<RunRow>(this.sql.getRun, [params.id])
    return row ? runFromRow(row) : null
  }

  async runList(params: RunListParams): Promise<RunListResult> {
    await this.ready()
    return listRuns((text, values) => this.rows<RunRow>(text, values, false), quoteIdent(this.schema), params)
  }

  async runClaim(params: RunClaimParams): Promise<RunRecord[]> {
    if (params.limit <= 0 || params.tasks.length === 0) return []
    await this.ready()
    const lease = new Date(params.now.getTime() + params.leaseMs)
    const values = [params.now, params.tasks, params.limit, params.workerId, lease, params.forbiddenFlags ?? [], params.queues ?? null]
    const walking = this.claimPlans.walks(params.tasks, params.queues)
    const rows = await this.rows<RunRow>(walking ? this.sql.claimWalking : this.sql.claimPlanned, values)
    // UPDATE ... RETURNING gives rows in no particular order.
    return rows.map(runFromRow).sort(claimOrder)
  }

  async runHeartbeat(params: RunHeartbeatParams): Promise<string[]> {
    if (params.leases.length === 0) return []
    await this.ready()
    const lease = new Date(params.now.getTime() + params.leaseMs)
    const ids = params.leases.map((held) => held.id)
    const attempts = params.leases.map((held) => held.attempt)
    const rows = await this.rows<{ id: string; attempt: number }>(this.sql.heartbeat, [lease, params.now, ids, attempts])
    const renewed = new Set(rows.map((row) => leaseKey(row.id, Number(row.attempt))))
    return params.leases.filter((held) => !renewed.has(leaseKey(held.id, held.attempt))).map((held) => held.id)
  }

  async runFinishMany(params: RunFinishManyParams): Promise<boolean[]> {
    const applied = params.results.map(() => false)
    if (params.results.length === 0) return applied
    await this.ready()
    // One UPDATE touches a row at most once. Only the result for the run's current attempt
    // can match its fence, so sending the first result of each (run, attempt) gives what
    // applying the batch in order would: a repeat finds the attempt already ended.
    const seen = new Set<string>()
    const batch: Array<{ result: AttemptResult; index: number }> = []
    params.results.forEach((result, index) => {
      const key = leaseKey(result.id, result.attempt)
      if (!seen.has(key)) (seen.add(key), batch.push({ result, index }))
    })
    const results = batch.map((item) => item.result)
    const rows = await this.rows<{ ord: number; grouped: boolean }>(this.sql.finish, [...finishArrays(results, params.now), params.now])
    // Runs freed for other workers: a released run, or a queue's or concurrency key's turn.
    let freed = false
    for (const row of rows) {
      const item = batch[Number(row.ord) - 1]
      if (!item) continue
      applied[item.index] = true
      if (item.result.outcome === 'released' || row.grouped) freed = true
    }
    if (freed) await this.notifyRunsAvailable()
    return applied
  }

  async runCancel(params: RunCancelParams): Promise<RunCancelResult | null> {
    await this.ready()
    const error = JSON.stringify({ name: 'RunCancelledError', code: 'run_cancelled', message: params.reason ?? 'Cancelled' })
    const result = await withTransaction(this.pool, async (client): Promise<RunCancelResult | null> => {
      const [locked] = (await client.query<{ status: string; attempt: number; concurrency_key: string | null }>(this.sql.lockForCancel, [params.id])).rows
      if (!locked) return null
      if (FINAL_STATUSES.has(locked.status)) {
        const [row] = (await client.query<RunRow>(this.sql.getRun, [params.id])).rows
        return row ? { run: runFromRow(row), cancelled: false } : null
      }
      // The attempt in progress ends here; the worker's own later write will find the run cancelled.
      if (locked.status === 'running') {
        await client.query(this.sql.recordCancelledAttempt, [params.id, params.now, error])
        if (locked.concurrency_key !== null) await client.query(this.sql.releaseCancelled, [params.id, locked.attempt, locked.concurrency_key])
      }
      const [row] = (await client.query<RunRow>(this.sql.cancel, [params.id, params.reason, params.now])).rows
      if (!row) throw new Error(`Run ${params.id} could not be cancelled while locked`)
      return { run: runFromRow(row), cancelled: true }
    })
    // A cancelled run may have held its serial queue or a place of its concurrency key.
    if (result?.cancelled && (result.run.queue !== null || result.run.concurrencyKey !== null)) await this.notifyRunsAvailable()
    return result
  }

  async runCancelByJobKey(params: RunCancelByJobKeyParams): Promise<RunCancelResult | null> {
    await this.ready()
    const rows = await this.rows<RunRow & { cancelled: boolean }>(this.keySql.cancelCurrent, [params.task, params.jobKey, params.reason, params.now])
    const [row] = rows
    return row ? { run: runFromRow(row), cancelled: row.cancelled } : null
  }

  async runPromoteDue(params: RunPromoteDueParams): Promise<number> {
    await this.ready()
    const result = (await this.exec(this.pool, this.sql.promoteDue, [params.now, params.limit], true)) as pg.QueryResult
    return result.rowCount ?? 0
  }

  async runRescueExpired(params: RunRescueExpiredParams): Promise<RescuedRun[]> {
    await this.ready()
    const rows = await this.rows<{ id: string; attempt: number; status: string }>(this.sql.rescue, [params.now, params.limit, LEASE_EXPIRED_ERROR])
    const rescued = rows.map((row) => ({ id: row.id, attempt: Number(row.attempt), status: row.status as RescuedRun['status'] }))
    // A rescued run gave back its place in its key, like any ended attempt (releaseHolders).
    if (rescued.length > 0) await this.notifyRunsAvailable()
    return rescued
  }

  /**
   * Folds the run counters' deltas (without a reader of the counts they would pile up for
   * good); once a minute drops key places that no path gave back (releaseStale); and when
   * it is this store's turn among all processes (every GROUP_DROP_EVERY_MS), drops the rows
   * of idle serial queues and concurrency keys (dropIdleGroups).
   */
  async runUpkeep(params: { now: Date }): Promise<boolean> {
    await this.ready()
    await this.insights.foldCounts()
    if (params.now.getTime() - this.staleHoldersCheckedAt < STALE_HOLDERS_EVERY_MS) return false
    this.staleHoldersCheckedAt = params.now.getTime()
    const freed = (await this.rows<{ key: string }>(this.sql.releaseStale, [])).length > 0
    if (freed) await this.notifyRunsAvailable()
    const turn = await this.rows(this.groupSql.takeTurn, [GROUP_DROP_EVERY_MS], false)
    if (turn.length === 0) return freed
    const [repair] = await this.rows<{ made: number }>(this.groupSql.repairDropped, [GROUP_REPAIR_AFTER_MS], false)
    await this.dropIdleGroups()
    if (Number(repair?.made ?? 0) === 0) return freed
    await this.notifyRunsAvailable()
    return true
  }

  /**
   * Deletes the rows of serial queues and concurrency keys that nothing waits in or runs in
   * (see groups.ts): a transaction per bucket, each up to GROUP_DROP_LIMIT rows of each
   * table, in one call to the server. Buckets in use elsewhere are left for the next time.
   * Returns how many rows went.
   */
  async dropIdleGroups(): Promise<{ queues: number; keys: number }> {
    await this.ready()
    const total = { queues: 0, keys: 0 }
    for (let bucket = 0; bucket < GROUP_BUCKETS; bucket++) {
      // A simple query of two statements: node-postgres answers with one result each.
      const results = (await this.pool.query(this.groupSql.dropBucket(bucket, GROUP_DROP_LIMIT))) as unknown as pg.QueryResult[]
      const [gone] = (results.at(-1)?.rows ?? []) as Array<{ dropped_queues: number; dropped_keys: number }>
      total.queues += Number(gone?.dropped_queues ?? 0)
      total.keys += Number(gone?.dropped_keys ?? 0)
    }
    return total
  }

  async runPrune(params: RunPruneParams): Promise<number> {
    await this.ready()
    const [row] = await this.rows<{ n: number }>(this.sql.prune, [params.finishedBefore, params.limit, pruneIdBound(params.finishedBefore)])
    return Number(row?.n ?? 0)
  }

  async attemptList(params: { runId: string }): Promise<Attempt[]> {
    await this.ready()
    return (await this.rows<AttemptRow>(this.sql.listAttempts, [params.runId])).map(attemptFromRow)
  }

  scheduleUpsert(params: ScheduleUpsertParams): Promise<ScheduleUpsertResult> {
    return this.schedules.upsert(params)
  }

  scheduleGet(params: { key: string }): Promise<ScheduleRecord | null> {
    return this.schedules.get(params.key)
  }

  scheduleList(params: ScheduleListParams): Promise<ScheduleRecord[]> {
    return this.schedules.list(params)
  }

  scheduleSetEnabled(params: ScheduleSetEnabledParams): Promise<ScheduleRecord | null> {
    return this.schedules.setEnabled(params)
  }

  scheduleDelete(params: { key: string }): Promise<boolean> {
    return this.schedules.remove(params.key)
  }

  schedulePeek(): Promise<SchedulePeekResult> {
    return this.schedules.peek()
  }

  scheduleTickDue<W extends ScheduleTickWrite>(params: ScheduleTickDueParams<W>): Promise<Array<ScheduleTickResult<W>>> {
    return this.schedules.tickDue(params)
  }

  scheduleReleaseHeld(params: ScheduleReleaseHeldParams): Promise<Array<{ id: string; scheduleKey: string }>> {
    return this.schedules.releaseHeld(params)
  }

  async stepList(params: { runId: string }): Promise<Step[]> {
    await this.ready()
    return this.steps.stepList(params.runId)
  }

  async stepSave(params: StepSaveParams): Promise<boolean> {
    await this.ready()
    return this.steps.stepSave(params)
  }

  async runProgressSet(params: RunProgressSetParams): Promise<boolean> {
    await this.ready()
    return this.steps.runProgressSet(params)
  }

  async logAppend(params: LogAppendParams): Promise<void> {
    await this.ready()
    return this.steps.logAppend(params)
  }

  async logList(params: LogListParams): Promise<RunLog[]> {
    await this.ready()
    return this.steps.logList(params)
  }

  async runCountByStatus(): Promise<RunCountRow[]> {
    await this.ready()
    return this.insights.countByStatus()
  }

  async runActivity(params: RunActivityParams): Promise<RunActivityBucket[]> {
    await this.ready()
    return this.insights.activityOf(params)
  }

  async runListChanged(params: RunListChangedParams): Promise<RunChange[]> {
    await this.ready()
    return this.insights.listChanged(params)
  }

  /** A hint for other processes' workers: runs went back to the queue. Best effort. */
  private async notifyRunsAvailable(): Promise<void> {
    if (!this.notifyEnabled) return
    await this.pool.query(this.sql.notify, [RUNS_AVAILABLE_CHANNEL, notificationPayload(this.schema, this.sender)]).catch(() => {})
  }

  private async ready(): Promise<void> {
    this.assertOpen()
    await this.migrate()
  }

  private async rows<T>(text: string, values: unknown[], prepared = true): Promise<T[]> {
    return rowsOf<T>(await this.exec(this.pool, text, values, prepared))
  }

  /**
   * Runs a statement. On our own pool and its clients, fixed statements are named, so each
   * connection parses and plans them once (unless `prepare: false`). A caller's handle gets
   * plain text: it may not be node-postgres.
   */
  private exec(client: Queryable, text: string, values: unknown[], prepared: boolean): Promise<unknown> {
    if (!prepared || !this.prepareStatements) return client.query(text, values)
    return (client as pg.Pool).query({ name: statementName(text), text, values })
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError()
  }
}

/** Above every id made up to and including the cutoff's millisecond: runs created before it finished. */
function pruneIdBound(finishedBefore: Date): string {
  return runIdFloor(new Date(finishedBefore.getTime() + 1))
}

function leaseKey(id: string, attempt: number): string {
  return `${id}#${attempt}`
}

function claimOrder(a: RunRecord, b: RunRecord): number {
  return a.priority - b.priority || a.runAt.getTime() - b.runAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}
