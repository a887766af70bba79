/**
 * One tick pass: every due schedule gets its runs (fetch and lock in the store, decide with
 * the pure planner, write in the same transaction), held runs whose turn has come are
 * released, and listeners hear about it. Workers run it on their own; `schedules.tick()`
 * runs it by hand.
 */
import { compileCron } from '../core/cron.js'
import { resolveCatchUp } from '../core/schedule.js'
import { planTicks, type TickPlan } from '../core/schedule-plan.js'
import { HELD_RUN_AT, type DueSchedule, type NewRun, type ScheduleRecord, type ScheduleTickResult, type ScheduleTickWrite } from '../storage/driver.js'
import { announce } from './enqueue.js'
import { newRunId } from './ids.js'
import type { ErrandInternals } from './internals.js'
import { toPublicRun } from './public-run.js'

/** What a tick pass did. */
export interface ScheduleTickSummary {
  /** Runs created for ticks (held ones included). */
  enqueued: number
  /** Ticks skipped because a run of their schedule was unfinished (overlap `'skip'`). */
  skipped: number
  /** Held runs released to the queue (overlap `'queue'`). */
  released: number
  /** The earliest next tick of any enabled schedule, or null. */
  nextTickAt: Date | null
  /** Schedules that could not be planned (their stored cron no longer reads); they are left as they were. */
  errors: Error[]
}

/** Schedules (and held runs) handled per store round trip. */
const BATCH = 100
/** Rounds per pass: a pass ends even if some schedules keep failing to plan. */
const MAX_ROUNDS = 50

interface PlannedWrite extends ScheduleTickWrite {
  plan: TickPlan
}

/** Runs one tick pass at the instance's clock's `now`. */
export async function tickSchedules(internals: ErrandInternals): Promise<ScheduleTickSummary> {
  await internals.ready()
  const { driver, clock } = internals
  const now = clock.now()
  const peek = await driver.schedulePeek({})
  const summary: ScheduleTickSummary = { enqueued: 0, skipped: 0, released: 0, nextTickAt: peek.nextTickAt, errors: [] }
  let held = peek.heldRuns
  if (peek.nextTickAt && peek.nextTickAt <= now) {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let planned = 0
      const results = await driver.scheduleTickDue<PlannedWrite>({
        now,
        limit: BATCH,
        plan: (schedule) => {
          planned++
          return planSchedule(schedule, now, summary.errors)
        },
      })
      for (const result of results) report(internals, result, now, summary)
      held ||= results.some((result) => result.write.plan.ticks.some((tick) => tick.decision === 'hold'))
      if (planned < BATCH) break
    }
    summary.nextTickAt = (await driver.schedulePeek({})).nextTickAt
  }
  if (held) summary.released = await releaseHeld(internals, now)
  return summary
}

/** The write for one due schedule; null (the schedule left alone) if it cannot be planned. */
function planSchedule(schedule: DueSchedule, now: Date, errors: Error[]): PlannedWrite | null {
  try {
    const plan = planTicks({
      cron: compileCron(schedule.cron, schedule.timezone),
      nextTickAt: schedule.nextTickAt as Date,
      now,
      catchUp: resolveCatchUp(schedule.catchUp),
      overlap: schedule.overlap,
      hasUnfinishedRun: schedule.hasUnfinishedRun,
    })
    const runs = plan.ticks.filter((tick) => tick.decision !== 'skip').map((tick) => runOfSchedule(schedule, tick.at, now, tick.decision === 'hold'))
    return { plan, runs, nextTickAt: plan.nextTickAt, lastTick: plan.lastTick }
  } catch (error) {
    errors.push(new Error(`Schedule "${schedule.key}" could not be ticked: ${(error as Error)?.message ?? String(error)}`, { cause: error }))
    return null
  }
}

/**
 * A run of a schedule for tick `scheduledFor`: due at its tick (older ticks claim first), or
 * held back until the schedule's earlier runs have finished.
 */
export function runOfSchedule(schedule: ScheduleRecord, scheduledFor: Date, now: Date, held = false): NewRun {
  const spec = schedule.runSpec
  return {
    id: newRunId(now),
    task: schedule.task,
    status: held ? 'scheduled' : 'queued',
    payloadJson: JSON.stringify(schedule.payload),
    maxAttempts: spec.maxAttempts,
    priority: spec.priority,
    queue: spec.queue ?? null,
    concurrencyKey: spec.concurrencyKey ?? null,
    concurrencyLimit: spec.concurrencyLimit ?? null,
    idempotencyKey: null,
    jobKey: null,
    jobKeyMode: null,
    flags: spec.flags ?? [],
    metadataJson: JSON.stringify(spec.metadata),
    retryPolicy: spec.retryPolicy,
    timeoutMs: spec.timeoutMs,
    runAt: held ? HELD_RUN_AT : scheduledFor,
    replayOf: null,
    replayReason: null,
    scheduleKey: schedule.key,
    scheduledFor,
  }
}

function report(internals: ErrandInternals, result: ScheduleTickResult<PlannedWrite>, now: Date, summary: ScheduleTickSummary): void {
  const { key, task } = result.schedule
  const { events } = internals
  announce(internals, result.runs, now)
  for (const inserted of result.runs) {
    if (!inserted.created) continue
    summary.enqueued++
    events.emit('schedule.ticked', { key, task, scheduledFor: inserted.run.scheduledFor as Date, run: toPublicRun(inserted.run) })
  }
  for (const tick of result.write.plan.ticks) {
    if (tick.decision !== 'skip') continue
    summary.skipped++
    events.emit('schedule.skipped', { key, task, scheduledFor: tick.at, reason: 'overlap' })
  }
  const missed = result.write.plan.missed
  if (missed) events.emit('schedule.missed', { key, task, from: missed.from, to: missed.to })
}

async function releaseHeld(internals: ErrandInternals, now: Date): Promise<number> {
  let released = 0
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const batch = await internals.driver.scheduleReleaseHeld({ now, limit: BATCH })
    released += batch.length
    if (batch.length < BATCH) break
  }
  if (released > 0) internals.signals.emit('wake', now)
  return released
}
