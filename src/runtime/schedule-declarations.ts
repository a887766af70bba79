import { InvalidOptionError, UnknownTaskError } from '../core/errors.js'
import type { ErrandInternals } from './internals.js'
import { checkScheduleOptions, resolveSchedule, type ScheduleOptions } from './schedule-spec.js'

/**
 * Schedules declared in code (`createErrand({ schedules })`, a task's `schedule`), and their
 * sync to the store. A sync writes a declaration only if it differs from what is stored (by
 * fingerprint), so every process of a deployment may sync at start-up, and a redeploy keeps
 * each schedule's next tick, last tick and pause.
 */
export class ScheduleDeclarations {
  private readonly declared = new Map<string, ScheduleOptions>()
  /** Keys this instance has not synced yet. */
  private readonly pending = new Set<string>()
  /** Keys whose lenient sync failed: retried, and reported, by the next strict one. */
  private readonly failed = new Set<string>()
  private chain: Promise<void> = Promise.resolve()

  /** Adds declarations, each checked at once (cron, time zone, policies); all or none. One key, one declaration. */
  add(list: ScheduleOptions[]): void {
    const keys = new Set<string>()
    for (const options of list) {
      checkScheduleOptions(options)
      if (this.declared.has(options.key) || keys.has(options.key)) throw new InvalidOptionError(`The schedule "${options.key}" is declared twice`)
      keys.add(options.key)
    }
    for (const options of list) {
      this.declared.set(options.key, options)
      this.pending.add(options.key)
    }
  }

  /** Whether a lenient sync has anything to do: a pending declaration whose task is registered. */
  hasWork(internals: ErrandInternals): boolean {
    for (const key of this.pending) {
      if (!this.failed.has(key) && internals.findTask(taskNameOf(this.declared.get(key) as ScheduleOptions))) return true
    }
    return false
  }

  /**
   * Writes pending declarations. Strict (worker start, `migrate()`): every one, and the first
   * failure throws (an unknown task, a payload its schema refuses). Lenient (first use of the
   * instance): those whose task is registered; a failure is kept for the next strict sync
   * rather than thrown from an unrelated call such as an enqueue.
   */
  sync(internals: ErrandInternals, strict: boolean): Promise<void> {
    const run = () => this.syncNow(internals, strict)
    const next = this.chain.then(run, run)
    this.chain = next.catch(() => {})
    return next
  }

  private async syncNow(internals: ErrandInternals, strict: boolean): Promise<void> {
    for (const key of [...this.pending]) {
      const options = this.declared.get(key) as ScheduleOptions
      if (!strict && (this.failed.has(key) || !internals.findTask(taskNameOf(options)))) continue
      try {
        if (!internals.findTask(taskNameOf(options))) throw new UnknownTaskError(taskNameOf(options))
        const now = internals.clock.now()
        const schedule = await resolveSchedule(internals, options, now)
        await internals.driver.scheduleUpsert({ schedule, now, onlyIfChanged: true })
        this.pending.delete(key)
        this.failed.delete(key)
      } catch (error) {
        if (strict) throw error
        this.failed.add(key)
      }
    }
  }
}

function taskNameOf(options: ScheduleOptions): string {
  return typeof options.task === 'string' ? options.task : options.task.name
}
