import { parseDuration, type Duration } from '../core/durations.js'
import { ErrandError, LeaseLostError, RunCancelledError, UnknownTaskError, WorkerShutdownError } from '../core/errors.js'
import type { RunRecord } from '../storage/driver.js'
import { AttemptAbort } from './attempt-abort.js'
import { announceAttemptResult, attemptResultOf } from './attempt-result.js'
import { CompletionBatcher } from './completion-batcher.js'
import type { AttemptServices } from './context.js'
import { executeAttempt, type Settlement } from './executor.js'
import { newWorkerId } from './ids.js'
import type { ErrandInternals } from './internals.js'
import { LogBuffer } from './log-buffer.js'
import { Maintenance } from './maintenance.js'
import { Scheduler } from './scheduler.js'
import { toPublicRun } from './public-run.js'
import type { AnyTaskDefinition } from './task.js'
import { checkForbiddenFlags, resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './worker-options.js'

/**
 * A run this worker holds: claimed ahead and waiting for a slot (`held`, with `prefetch`),
 * executing, or finished and waiting for its result to be written.
 */
interface ActiveRun {
  run: RunRecord
  task: AnyTaskDefinition
  abort: AttemptAbort
  state: 'held' | 'executing' | 'writing'
  done: Promise<void>
}

/**
 * Claims due runs and executes them. One claim fills every free slot; results are written
 * in batches; leases are renewed by heartbeats; runs of crashed workers are taken back by
 * the maintenance loop. Wakes on local enqueues at once, and otherwise polls with jitter.
 */
export class Worker {
  readonly id: string
  private readonly options: ResolvedWorkerOptions
  private readonly active = new Map<string, ActiveRun>()
  /** Runs claimed ahead of a free slot, in claim order (also in `active`). */
  private readonly held: ActiveRun[] = []
  /** Runs of each task held for a slot or executing, for tasks' own concurrency limits. */
  private readonly takenPerTask = new Map<string, number>()
  private readonly batcher: CompletionBatcher
  private readonly services: AttemptServices
  private readonly maintenance: Maintenance
  private readonly scheduler: Scheduler | null
  private tasks: AnyTaskDefinition[] = []
  private busy = 0
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle'
  private fetching = false
  private fetchAgain = false
  /**
   * Whether runs may be due that no claim has looked for yet. A finished run frees a slot
   * but claims for it only while this is set: once a claim has come back short, runs that
   * become due arrive as wake-ups (an enqueue here, NOTIFY, a timer, the poll), and each
   * sets it again. Without it every finished run cost a claim that found nothing.
   */
  private mayBeDue = true
  /** Wake-ups so far: a claim clears `mayBeDue` only if none came while it ran. */
  private wakeups = 0
  /** The fetch loop in progress (settled when none is). */
  private fetchDone: Promise<void> = Promise.resolve()
  private pollTimer: NodeJS.Timeout | null = null
  private wakeTimer: NodeJS.Timeout | null = null
  private wakeAt = Infinity
  private heartbeatTimer: NodeJS.Timeout | null = null
  /** The heartbeat in progress (settled when none is). */
  private heartbeatDone: Promise<void> = Promise.resolve()
  private readonly onWake = (at: Date) => this.wake(at)
  private readonly onCancelled = (runId: string) => this.abortRun(runId, new RunCancelledError(runId, null, null))
  /** Stops the store's wake-up hints (PostgreSQL NOTIFY), when the store offers them. */
  private unsubscribeRunsAvailable: (() => void) | null = null

  constructor(
    private readonly internals: ErrandInternals,
    options: WorkerOptions = {},
  ) {
    this.options = resolveWorkerOptions(options)
    this.id = this.options.workerId ?? newWorkerId()
    const reportError = (error: unknown) => this.reportError(error)
    this.batcher = new CompletionBatcher(internals.driver, internals.clock, reportError)
    this.services = { internals, logs: new LogBuffer(internals.driver, reportError), reportError, abortIgnoredMs: this.options.abortIgnoredMs }
    this.maintenance = new Maintenance(internals, this.options, reportError, () => this.fetchSoon())
    this.scheduler = this.options.scheduler ? new Scheduler(internals, this.options.maintenanceMs, reportError) : null
  }

  /** Runs executing now. */
  get running(): number {
    return this.busy
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') throw new ErrandError('invalid_option', `Worker ${this.id} was already started`)
    this.tasks = this.resolveTasks()
    // Declared schedules are synced before anything runs: a bad declaration fails the start.
    await this.internals.readyStrict()
    this.state = 'running'
    this.internals.signals.on('wake', this.onWake)
    this.internals.signals.on('cancelled', this.onCancelled)
    // Runs enqueued by other processes: claim on the hint instead of waiting for the poll.
    this.unsubscribeRunsAvailable = this.internals.driver.subscribeRunsAvailable?.(() => this.fetchSoon()) ?? null
    this.heartbeatTimer = setInterval(() => {
      this.heartbeatDone = this.heartbeat()
    }, this.options.heartbeatMs)
    this.heartbeatTimer.unref()
    this.maintenance.start()
    this.scheduler?.start()
    this.schedulePoll()
    this.fetchSoon()
  }

  /**
   * Stops claiming, lets runs in flight finish for up to `timeout` (default `'30s'`), then
   * aborts their signals and gives them back to the queue without using up an attempt.
   */
  async stop(options: { timeout?: Duration } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'idle') {
      this.state = 'stopped'
      return
    }
    const graceMs = parseDuration(options.timeout ?? '30s')
    this.state = 'stopping'
    await this.scheduler?.stop()
    this.clearTimer('pollTimer')
    this.clearTimer('wakeTimer')
    this.internals.signals.off('wake', this.onWake)
    this.unsubscribeRunsAvailable?.()
    this.unsubscribeRunsAvailable = null
    const deadline = Date.now() + graceMs
    // A claim still in flight takes runs that are not in `active` yet: let it land first, or
    // they would start after the stop and stay `running` until their lease ran out.
    await this.fetchDone
    this.releaseHeld()
    await this.waitForActive(Math.max(0, deadline - Date.now()))
    for (const entry of this.active.values()) if (entry.state === 'executing') entry.abort.abort(new WorkerShutdownError())
    await this.waitForActive(Infinity)
    await this.batcher.drain()
    await this.services.logs.drain()
    // Neither a maintenance round nor a heartbeat may still be using the store once stop()
    // returns: the host usually closes the store right after.
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer)
    await Promise.all([this.maintenance.stop(), this.heartbeatDone])
    this.internals.signals.off('cancelled', this.onCancelled)
    this.state = 'stopped'
  }

  private resolveTasks(): AnyTaskDefinition[] {
    const names = this.options.tasks ?? this.internals.taskNames()
    return names.map((name) => {
      const task = this.internals.findTask(name)
      if (!task) throw new UnknownTaskError(name)
      return task
    })
  }

  private async waitForActive(ms: number): Promise<void> {
    const all = Promise.all([...this.active.values()].map((entry) => entry.done))
    if (ms === Infinity) return void (await all)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, ms)))])
    clearTimeout(timer)
  }

  /** Asks for a claim as soon as possible; calls made while one runs coalesce into one more. */
  fetchSoon(): void {
    if (this.state !== 'running') return
    this.mayBeDue = true
    this.wakeups++
    if (this.fetching) {
      this.fetchAgain = true
      return
    }
    this.fetching = true
    this.fetchDone = this.fetchLoop()
  }

  private async fetchLoop(): Promise<void> {
    try {
      do {
        // Give the event loop a turn before every claim. With a synchronous store (SQLite)
        // and handlers that never wait on I/O, claim -> run -> settle -> claim would chain in
        // microtasks only, starving heartbeats (leases expire: runs repeat), timers and the
        // batched completion writes for as long as runs are due.
        await new Promise((resolve) => setImmediate(resolve))
        if (this.state !== 'running') break
        this.fetchAgain = false
        const full = await this.claimAndStart()
        if (full) this.fetchAgain = true
      } while (this.fetchAgain && this.state === 'running' && this.freeSlots() > 0)
    } catch (error) {
      this.reportError(error)
    } finally {
      this.fetching = false
    }
  }

  /**
   * Runs a claim may take: `concurrency` execute at once and `prefetch` more may wait here
   * for a slot, and a worker holds at most twice that many, counting finished runs whose
   * result is still waiting for its batched write (so one claim can go while the last
   * one's results are written). Without that bound a slow write let finished runs pile up
   * behind it, and every batch grew larger and slower than the last (a crash also gives
   * back only what it held).
   */
  private freeSlots(): number {
    const { concurrency, prefetch } = this.options
    return Math.min(concurrency + prefetch - this.busy - this.held.length, this.holdLimit() - this.active.size)
  }

  private holdLimit(): number {
    return 2 * (this.options.concurrency + this.options.prefetch)
  }

  /**
   * Claims for every free slot. Tasks with their own concurrency limit are claimed apart,
   * each up to its remaining room (runs held for a slot count against it); the rest in one
   * claim. Returns whether any claim came back full (more runs are probably due).
   */
  private async claimAndStart(): Promise<boolean> {
    const unlimited = this.tasks.filter((task) => task.options.concurrency === undefined).map((task) => task.name)
    const limited = this.tasks.filter((task) => task.options.concurrency !== undefined)
    let full = false
    const groups: Array<{ tasks: string[]; room: () => number }> = []
    if (unlimited.length) groups.push({ tasks: unlimited, room: () => this.freeSlots() })
    for (const task of limited) {
      const limit = task.options.concurrency as number
      groups.push({ tasks: [task.name], room: () => Math.min(this.freeSlots(), limit - (this.takenPerTask.get(task.name) ?? 0)) })
    }
    const forbiddenFlags = typeof this.options.forbiddenFlags === 'function' ? checkForbiddenFlags(await this.options.forbiddenFlags()) : this.options.forbiddenFlags
    const wakeupsBefore = this.wakeups
    let lookedForAll = true
    for (const group of groups) {
      const limit = Math.min(group.room(), this.options.batchSize)
      if (this.state !== 'running') return full
      if (limit <= 0) {
        lookedForAll = false // no room: this group's due runs, if any, are still to be claimed
        continue
      }
      const claimed = await this.internals.driver.runClaim({
        workerId: this.id,
        tasks: group.tasks,
        limit,
        leaseMs: this.options.leaseMs,
        now: this.internals.clock.now(),
        forbiddenFlags,
        queues: this.options.queues,
      })
      if (claimed.length === limit) full = true
      for (const run of claimed) this.take(run)
    }
    // Every claim came back short and nothing woke the worker meanwhile: nothing else is due.
    if (lookedForAll && !full && wakeupsBefore === this.wakeups) this.mayBeDue = false
    return full
  }

  /** A claimed run: executes if a slot is free, else waits for one (claimed ahead). */
  private take(run: RunRecord): void {
    const entry: ActiveRun = { run, task: this.internals.getTask(run.task), abort: new AttemptAbort(), state: 'held', done: Promise.resolve() }
    this.active.set(run.id, entry)
    this.countTaken(run.task, 1)
    if (this.busy < this.options.concurrency && this.held.length === 0) this.execute(entry)
    else this.held.push(entry)
  }

  /** Starts held runs while slots are free. */
  private startHeld(): void {
    while (this.state === 'running' && this.busy < this.options.concurrency && this.held.length > 0) this.execute(this.held.shift() as ActiveRun)
  }

  private execute(entry: ActiveRun): void {
    const { run, task, abort } = entry
    entry.state = 'executing'
    this.busy++
    if (this.internals.events.listenerCount('run.started')) this.internals.events.emit('run.started', { run: toPublicRun(run) })
    const startedAt = Date.now()
    entry.done = executeAttempt(run, task, abort, this.services)
      .then((settlement) => this.settle(entry, settlement, startedAt))
      .catch((error: unknown) => this.reportError(error))
      .finally(() => this.forget(run.id))
  }

  /**
   * Gives back the runs held for a slot, at a stop: they never started, so the release
   * costs them no attempt, and another worker may take them at once.
   */
  private releaseHeld(): void {
    for (const entry of this.held.splice(0)) {
      this.countTaken(entry.run.task, -1)
      const settlement: Settlement = { kind: 'aborted', reason: new WorkerShutdownError() }
      entry.done = this.writeResult(entry, settlement, Date.now())
        .catch((error: unknown) => this.reportError(error))
        .finally(() => this.forget(entry.run.id))
    }
  }

  /** A held run that was cancelled or whose lease was lost: it is no longer ours, and nothing is written. */
  private dropHeld(entry: ActiveRun): void {
    const index = this.held.indexOf(entry)
    if (index >= 0) this.held.splice(index, 1)
    this.countTaken(entry.run.task, -1)
    this.forget(entry.run.id)
    this.groupFreed(entry.run)
  }

  /** A run of a serial queue or concurrency key let go of it: the next run of its group may start. */
  private groupFreed(run: RunRecord): void {
    if (run.queue !== null || run.concurrencyKey !== null) this.wakeWorkers()
  }

  /**
   * Wakes every worker of this process, this one included. Other processes hear the store's
   * NOTIFY, which this process's own workers ignore.
   */
  private wakeWorkers(): void {
    this.internals.signals.emit('wake', this.internals.clock.now())
  }

  private countTaken(task: string, change: 1 | -1): void {
    this.takenPerTask.set(task, (this.takenPerTask.get(task) ?? 0) + change)
  }

  /** Forgets a run whose result is written; a claim held back by the hold limit may go now. */
  private forget(runId: string): void {
    const wasAtLimit = this.active.size >= this.holdLimit()
    this.active.delete(runId)
    if (wasAtLimit) this.fetchSoon()
  }

  private async settle(entry: ActiveRun, settlement: Settlement, startedAt: number): Promise<void> {
    this.busy--
    this.countTaken(entry.run.task, -1)
    this.startHeld()
    if (this.mayBeDue) this.fetchSoon()
    await this.writeResult(entry, settlement, startedAt)
  }

  /** Writes how an attempt ended (in the next batch), then tells whoever listens. */
  private async writeResult(entry: ActiveRun, settlement: Settlement, startedAt: number): Promise<void> {
    entry.state = 'writing'
    const result = attemptResultOf(entry.run, settlement, this.id)
    const logsWritten = this.services.logs.written()
    if (logsWritten) await logsWritten
    const applied = result !== null && (await this.batcher.submit(result).catch(() => false))
    // Written, or taken from us (a cancel): either way the run no longer holds its group.
    this.groupFreed(entry.run)
    if (!result || !applied) return
    const dueAgain = announceAttemptResult(this.internals, entry.run, result, settlement, Date.now() - startedAt)
    if (dueAgain) this.wake(dueAgain)
    if (result.outcome === 'released') this.wakeWorkers() // given back: due for another worker now
    // A run of a schedule ended: a run held behind it (overlap 'queue') may go now.
    if (entry.run.scheduleKey !== null) this.scheduler?.poke()
  }

  /** A run becomes due at `at`: claim now, or set a timer for it. */
  private wake(at: Date): void {
    if (this.state !== 'running') return
    const delay = at.getTime() - this.internals.clock.now().getTime()
    if (delay <= 0) return this.fetchSoon()
    if (at.getTime() >= this.wakeAt || delay > this.options.pollMs) return
    this.clearTimer('wakeTimer')
    this.wakeAt = at.getTime()
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Infinity
      this.wakeTimer = null
      this.fetchSoon()
    }, delay)
  }

  private schedulePoll(): void {
    const delay = this.options.pollMs * (0.8 + 0.4 * Math.random())
    this.pollTimer = setTimeout(() => {
      this.fetchSoon()
      if (this.state === 'running') this.schedulePoll()
    }, delay)
  }

  private async heartbeat(): Promise<void> {
    // Every run this worker holds, those whose result still waits for its batched write
    // included: the lease must outlive the write, or the run is rescued and runs twice.
    const leases = [...this.active.values()].map((entry) => ({ id: entry.run.id, attempt: entry.run.attempt }))
    if (leases.length === 0) return
    try {
      const lost = await this.internals.driver.runHeartbeat({ leases, leaseMs: this.options.leaseMs, now: this.internals.clock.now() })
      for (const id of lost) {
        const entry = this.active.get(id)
        if (entry?.state === 'held') this.dropHeld(entry)
        if (entry?.state !== 'executing') continue
        const current = await this.internals.driver.runGet({ id })
        this.abortRun(id, current?.status === 'cancelled' ? new RunCancelledError(id, null, current.cancelReason) : new LeaseLostError(id))
      }
    } catch (error) {
      this.reportError(error)
    }
  }

  private abortRun(runId: string, reason: Error): void {
    const entry = this.active.get(runId)
    if (entry?.state === 'executing') entry.abort.abort(reason)
    else if (entry?.state === 'held') this.dropHeld(entry)
  }

  private clearTimer(name: 'pollTimer' | 'wakeTimer'): void {
    const timer = this[name]
    if (timer) clearTimeout(timer)
    this[name] = null
    if (name === 'wakeTimer') this.wakeAt = Infinity
  }

  private reportError(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error))
    this.internals.events.emit('worker.error', { error: err, workerId: this.id })
  }
}
