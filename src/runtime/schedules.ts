import { compileCron } from '../core/cron.js'
import { InvalidOptionError, ScheduleNotFoundError } from '../core/errors.js'
import { checkScheduleKey } from '../core/schedule.js'
import { checkWholeNumber } from '../core/whole-number.js'
import type { ScheduleListParams, ScheduleRecord } from '../storage/driver.js'
import { announce, createRunHandle } from './enqueue.js'
import type { ErrandInternals } from './internals.js'
import type { RunHandle } from './run-handle.js'
import { resolveSchedule, toPublicSchedule, type Schedule, type ScheduleOptions } from './schedule-spec.js'
import { runOfSchedule, tickSchedules, type ScheduleTickSummary } from './schedule-ticker.js'
import type { TaskDefinition } from './task.js'

/** Managing recurring schedules: `errand.schedules`. */
export interface SchedulesApi {
  /**
   * Creates the schedule, or updates the one with this key. Its next tick is kept unless
   * the cron expression or time zone changed (then it is the first tick after now), so
   * upserting the same schedule again changes nothing. Throws `InvalidCronError`,
   * `InvalidOptionError`, `UnknownTaskError` or `ValidationError` (the payload against the
   * task's input schema); nothing is written then.
   */
  upsert<TInput = unknown>(options: ScheduleOptions<NoInfer<TInput>> & { task: string | TaskDefinition<string, TInput, any, any> }): Promise<Schedule>
  get(key: string): Promise<Schedule | null>
  /**
   * Schedules by key: every one, or a page of at most `limit` (1 to 1000) after the key
   * `after` (the last key of the previous page).
   */
  list(options?: { after?: string; limit?: number }): Promise<Schedule[]>
  /** Stops ticking; ticks while paused are never made up. Throws `ScheduleNotFoundError`. */
  pause(key: string): Promise<Schedule>
  /** Ticks again from the first tick after now. Throws `ScheduleNotFoundError`. */
  resume(key: string): Promise<Schedule>
  /** Deletes the schedule; its runs stay. False when there was none. */
  remove(key: string): Promise<boolean>
  /**
   * Enqueues one run of the schedule now (also while paused), whatever its overlap policy.
   * The run's `scheduledFor` is now. Throws `ScheduleNotFoundError`.
   */
  trigger(key: string): Promise<RunHandle>
  /**
   * Enqueues the runs of every due tick now and releases held runs whose turn has come.
   * Workers do this by themselves; call it from hosts that run no worker, or from tests with
   * a controlled clock.
   */
  tick(): Promise<ScheduleTickSummary>
}

/** Builds `errand.schedules` over an instance's internals. */
export function createSchedulesApi(internals: ErrandInternals): SchedulesApi {
  const changed = () => internals.signals.emit('schedules')
  const find = async (key: string): Promise<ScheduleRecord> => {
    await internals.ready()
    const record = await internals.driver.scheduleGet({ key: checkScheduleKey(key) })
    if (!record) throw new ScheduleNotFoundError(key)
    return record
  }
  const setEnabled = async (key: string, enabled: boolean): Promise<Schedule> => {
    const record = await find(key)
    const now = internals.clock.now()
    const nextTickAt = enabled ? compileCron(record.cron, record.timezone).next(now) : null
    const updated = await internals.driver.scheduleSetEnabled({ key, enabled, nextTickAt, now })
    if (!updated) throw new ScheduleNotFoundError(key)
    changed()
    return toPublicSchedule(updated)
  }
  return {
    async upsert(options) {
      const now = internals.clock.now()
      const schedule = await resolveSchedule(internals, options as ScheduleOptions, now)
      await internals.ready()
      const { schedule: record } = await internals.driver.scheduleUpsert({ schedule, now, onlyIfChanged: false })
      changed()
      return toPublicSchedule(record)
    },
    async get(key) {
      await internals.ready()
      const record = await internals.driver.scheduleGet({ key: checkScheduleKey(key) })
      return record ? toPublicSchedule(record) : null
    },
    async list(options = {}) {
      const page = checkListPage(options)
      await internals.ready()
      return (await internals.driver.scheduleList(page)).map(toPublicSchedule)
    },
    pause: (key) => setEnabled(key, false),
    resume: (key) => setEnabled(key, true),
    async remove(key) {
      await internals.ready()
      const removed = await internals.driver.scheduleDelete({ key: checkScheduleKey(key) })
      if (removed) changed()
      return removed
    },
    async trigger(key) {
      const record = await find(key)
      const now = internals.clock.now()
      const results = await internals.driver.runInsertMany({ runs: [runOfSchedule(record, now, now)], now })
      announce(internals, results, now)
      return createRunHandle(internals, results[0] as (typeof results)[number])
    },
    tick: () => tickSchedules(internals),
  }
}

function checkListPage(options: { after?: unknown; limit?: unknown }): ScheduleListParams {
  const { after, limit } = options
  if (after !== undefined && typeof after !== 'string') throw new InvalidOptionError('after must be a schedule key')
  return { after, limit: limit === undefined ? undefined : checkWholeNumber(limit, 'limit', 1, 1000) }
}
