import { parseDuration } from '../core/durations.js'
import { InvalidOptionError, TaskConflictError } from '../core/errors.js'
import type { EnqueueOptions } from '../core/run-options.js'
import type { StoreDriver } from '../storage/driver.js'
import { systemClock, type Clock } from './clock.js'
import { enqueueRuns, taskNameOf, unwrapItem } from './enqueue.js'
import { ErrandEmitter, type ErrandEventName, type ErrandListener } from './events.js'
import { ErrandInternals } from './internals.js'
import type { RunHandle } from './run-handle.js'
import { createRunsApi, type RunsApi } from './runs.js'
import type { ScheduleOptions } from './schedule-spec.js'
import { schedulesOfTask } from './schedule-spec.js'
import { createSchedulesApi, type SchedulesApi } from './schedules.js'
import {
  defineTask,
  type AnyTaskDefinition,
  type EnqueueAndWaitOptions,
  type EnqueueManyItem,
  type HandleOf,
  type RunResult,
  type TaskHandle,
  type TaskHandler,
  type TaskOptions,
} from './task.js'
import { expectCompleted, waitForFinalRun } from './wait.js'
import { Worker } from './worker.js'
import type { WorkerOptions } from './worker-options.js'

/** Options of {@link createErrand}. */
export interface ErrandOptions {
  /** Where runs live: `sqliteStore(...)` or `postgresStore(...)`. */
  store: StoreDriver
  /** Source of time. Default the system clock; tests pass their own. */
  clock?: Clock
  /**
   * Recurring schedules declared in code. Checked here (a bad cron or time zone throws);
   * synced to the store when a worker starts, on `migrate()` and on first use (for those
   * whose task is registered by then). A redeploy neither duplicates nor resets them.
   */
  schedules?: ScheduleOptions[]
}

/** An errand instance: register tasks, enqueue runs, manage runs, start workers. */
export class Errand {
  /** Read and manage runs. */
  readonly runs: RunsApi
  /** Create and manage recurring schedules. */
  readonly schedules: SchedulesApi
  private readonly internals: ErrandInternals
  private readonly handles = new Map<string, { definition: AnyTaskDefinition; handle: TaskHandle<any, any> }>()
  private readonly workers = new Set<Worker>()

  constructor(options: ErrandOptions) {
    if (!options?.store) throw new InvalidOptionError('createErrand needs a store, e.g. sqliteStore({ path: "./errand.db" })')
    this.internals = new ErrandInternals(options.store, options.clock ?? systemClock, new ErrandEmitter())
    this.runs = createRunsApi(this.internals)
    this.schedules = createSchedulesApi(this.internals)
    if (options.schedules !== undefined && !Array.isArray(options.schedules)) throw new InvalidOptionError('createErrand: schedules must be an array')
    this.internals.declarations.add(options.schedules ?? [])
  }

  /** The store this instance uses. */
  get store(): StoreDriver {
    return this.internals.driver
  }

  /**
   * Registers task definitions and returns a typed handle for each, under the same keys.
   * Registering the same definition again returns the same handle; a different
   * definition under a taken name throws `TaskConflictError`.
   */
  register<T extends Record<string, AnyTaskDefinition>>(definitions: T): { [K in keyof T]: HandleOf<T[K]> } {
    const out: Record<string, TaskHandle<any, any>> = {}
    for (const [key, definition] of Object.entries(definitions)) out[key] = this.registerOne(definition)
    return out as { [K in keyof T]: HandleOf<T[K]> }
  }

  /** Defines and registers a task in one call. */
  task<TPayload = unknown, TResult = unknown>(
    name: string,
    options: TaskOptions,
    run: TaskHandler<TPayload, TResult>,
  ): TaskHandle<TPayload, Awaited<TResult>> {
    const definition = defineTask({ ...(options as object), name, run: run as TaskHandler<unknown, unknown> }) as AnyTaskDefinition
    return this.registerOne(definition)
  }

  private registerOne(definition: AnyTaskDefinition): TaskHandle<any, any> {
    if (definition?.kind !== 'errand.task') throw new InvalidOptionError('register() takes task definitions made by defineTask()')
    const existing = this.handles.get(definition.name)
    if (existing) {
      if (existing.definition === definition) return existing.handle
      throw new TaskConflictError(definition.name)
    }
    this.internals.declarations.add(schedulesOfTask(definition))
    const handle = this.createHandle(definition.name)
    this.handles.set(definition.name, { definition, handle })
    this.internals.addTask(definition)
    return handle
  }

  private createHandle(name: string): TaskHandle<any, any> {
    return {
      name,
      enqueue: (payload, options) => this.enqueue(name, payload, options),
      enqueueMany: (items, options) => this.enqueueMany(name, items, options),
      enqueueAndWait: (payload, options) => this.enqueueAndWait(name, payload, options),
    }
  }

  /** Enqueues a run of a registered task by name. The payload is validated first. */
  async enqueue(task: string | AnyTaskDefinition, payload: unknown, options?: EnqueueOptions): Promise<RunHandle> {
    const [handle] = await enqueueRuns(this.internals, [{ task: taskNameOf(task), payload, options }], options?.tx)
    return handle as RunHandle
  }

  /** Enqueues many runs of one task: every item is validated first, then all are inserted in one transaction. */
  async enqueueMany(task: string | AnyTaskDefinition, items: Array<EnqueueManyItem<unknown>>, options?: { tx?: unknown }): Promise<RunHandle[]> {
    if (!Array.isArray(items)) throw new InvalidOptionError('enqueueMany takes an array')
    const name = taskNameOf(task)
    const requests = items.map((item) => ({ task: name, ...unwrapItem(item) }))
    return enqueueRuns(this.internals, requests, options?.tx)
  }

  /** Enqueues a run and waits for it to complete. Throws if it is dead-lettered or cancelled, or on timeout. */
  async enqueueAndWait(task: string | AnyTaskDefinition, payload: unknown, options: EnqueueAndWaitOptions = {}): Promise<RunResult<unknown>> {
    const { timeout, attemptTimeout, ...rest } = options
    const waitMs = timeout === undefined ? undefined : parseDuration(timeout)
    const enqueueOptions: EnqueueOptions = attemptTimeout === undefined ? rest : { ...rest, timeout: attemptTimeout }
    const handle = await this.enqueue(task, payload, enqueueOptions)
    const run = expectCompleted(await waitForFinalRun(this.internals, handle.id, waitMs))
    return { id: run.id, output: run.output, run }
  }

  /** Moves due scheduled runs to queued, for hosts that enqueue but run no worker loop. Returns how many moved. */
  async dispatch(): Promise<number> {
    await this.internals.ready()
    let moved = 0
    for (;;) {
      const batch = await this.internals.driver.runPromoteDue({ now: this.internals.clock.now(), limit: 1_000 })
      moved += batch
      if (batch < 1_000) break
    }
    if (moved > 0) this.internals.signals.emit('wake', this.internals.clock.now())
    return moved
  }

  /** Creates a worker for this instance's tasks. Call `start()` on it. */
  worker(options: WorkerOptions = {}): Worker {
    const worker = new Worker(this.internals, options)
    this.workers.add(worker)
    return worker
  }

  /** Listens to an event; returns a function that stops listening. */
  on<E extends ErrandEventName>(event: E, listener: ErrandListener<E>): () => void {
    return this.internals.events.on(event, listener)
  }

  off<E extends ErrandEventName>(event: E, listener: ErrandListener<E>): void {
    this.internals.events.off(event, listener)
  }

  /**
   * Applies pending schema migrations (they also run by themselves on first use), then
   * syncs the schedules declared in code; throws if one names an unregistered task or has
   * a payload its task's schema refuses.
   */
  migrate(): Promise<void> {
    return this.internals.readyStrict()
  }

  /** Names of the registered tasks. */
  taskNames(): string[] {
    return this.internals.taskNames()
  }

  /** Stops this instance's workers (30 s grace each) and closes the store. */
  async close(options: { timeout?: import('../core/durations.js').Duration } = {}): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.stop(options)))
    await this.internals.driver.close()
  }
}
