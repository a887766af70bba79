import { EventEmitter } from 'node:events'
import { UnknownTaskError } from '../core/errors.js'
import type { StoreDriver } from '../storage/driver.js'
import type { Clock } from './clock.js'
import type { ErrandEmitter } from './events.js'
import { ScheduleDeclarations } from './schedule-declarations.js'
import type { AnyTaskDefinition } from './task.js'
import { DEFAULT_WAIT_PACING, type WaitPacing } from './wait.js'

/** Signals between the client and workers of one process. */
export interface LocalSignals {
  /** A run became due (or will at `at`): a local worker may claim it now. */
  wake: [at: Date]
  /** A run was cancelled here: a local worker running it should abort at once. */
  cancelled: [runId: string]
  /** A run reached a final status here: local waiters can stop polling. */
  finished: [runId: string]
  /** A schedule changed here (upserted, resumed...): a local scheduler should look again. */
  schedules: []
}

/** What the client, the runs API and the workers of one errand instance share. */
export class ErrandInternals {
  readonly signals = new EventEmitter<LocalSignals>()
  /** Schedules declared in code, synced to the store on first use and when a worker starts. */
  readonly declarations = new ScheduleDeclarations()
  /** How often waits read the store. Tests slow it down to show what else wakes a wait. */
  waitPacing: WaitPacing = DEFAULT_WAIT_PACING
  private readonly tasks = new Map<string, AnyTaskDefinition>()
  private migration: Promise<void> | null = null

  constructor(
    readonly driver: StoreDriver,
    readonly clock: Clock,
    readonly events: ErrandEmitter,
  ) {
    this.signals.setMaxListeners(0)
  }

  /** Runs migrations once per instance, on first use; then syncs declared schedules that are ready to be. */
  async ready(): Promise<void> {
    this.migration ??= this.driver.migrate().catch((error: unknown) => {
      this.migration = null
      throw error
    })
    await this.migration
    if (this.declarations.hasWork(this)) await this.declarations.sync(this, false)
  }

  /** Migrates, then syncs every declared schedule; throws if one cannot be (unknown task, bad payload). */
  async readyStrict(): Promise<void> {
    await this.ready()
    await this.declarations.sync(this, true)
  }

  addTask(definition: AnyTaskDefinition): void {
    this.tasks.set(definition.name, definition)
  }

  findTask(name: string): AnyTaskDefinition | undefined {
    return this.tasks.get(name)
  }

  getTask(name: string): AnyTaskDefinition {
    const task = this.tasks.get(name)
    if (!task) throw new UnknownTaskError(name)
    return task
  }

  taskNames(): string[] {
    return [...this.tasks.keys()]
  }
}
