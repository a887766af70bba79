/**
 * What a due schedule does at one tick pass: which ticks get a run, which are skipped or
 * held, which were missed, and when the next tick is. Pure: the caller passes the time and
 * the state of the schedule's runs; nothing here reads a clock or a database.
 */
import type { CronSchedule } from './cron.js'
import { LATE_AFTER_MS, type Overlap, type ResolvedCatchUp } from './schedule.js'

/** What the planner needs to know about one due schedule. */
export interface TickPlanInput {
  cron: CronSchedule
  /** The schedule's next tick as stored; due, so at or before `now`. */
  nextTickAt: Date
  now: Date
  catchUp: ResolvedCatchUp
  overlap: Overlap
  /** Whether a run of the schedule is unfinished (scheduled, queued or running). */
  hasUnfinishedRun: boolean
}

/** `run`: a run due now; `hold`: a run that waits for the earlier ones (overlap `'queue'`); `skip`: no run. */
export type TickDecision = 'run' | 'hold' | 'skip'

/** One tick and what becomes of it. */
export interface PlannedTick {
  at: Date
  decision: TickDecision
}

/** What became of a schedule's newest tick, as stored and shown by `schedules.get`. */
export type TickOutcome = 'enqueued' | 'skipped' | 'missed'

/** The planner's answer for one schedule at one pass. */
export interface TickPlan {
  /** Ticks dealt with, oldest first. */
  ticks: PlannedTick[]
  /** Ticks missed and dropped by the catch-up policy, as a range (both ends are ticks). */
  missed: { from: Date; to: Date } | null
  /** The first tick after `now`, or null if the expression never fires again. */
  nextTickAt: Date | null
  /** The newest tick dealt with, or null when there was none (the stored one stays). */
  lastTick: { at: Date; outcome: TickOutcome } | null
}

/**
 * Plans the ticks from `nextTickAt` up to `now`. Ticks at most {@link LATE_AFTER_MS} old are
 * on time and all get a decision; older ones were missed (no scheduler ran) and only those
 * the catch-up policy keeps do.
 */
export function planTicks(input: TickPlanInput): TickPlan {
  const { cron, nextTickAt, now } = input
  const lateUpTo = new Date(now.getTime() - LATE_AFTER_MS)
  const onTime = ticksBetween(cron, new Date(Math.max(nextTickAt.getTime(), lateUpTo.getTime() + 1)), now)
  const late = nextTickAt <= lateUpTo ? keptLateTicks(input, lateUpTo, onTime.length > 0) : []
  const missed = nextTickAt <= lateUpTo ? missedRange(cron, nextTickAt, late[0] ?? new Date(lateUpTo.getTime() + 1)) : null
  const ticks = decide([...late, ...onTime], input.overlap, input.hasUnfinishedRun)
  const newest = ticks[ticks.length - 1]
  const lastTick = newest
    ? { at: newest.at, outcome: newest.decision === 'skip' ? ('skipped' as const) : ('enqueued' as const) }
    : missed
      ? { at: missed.to, outcome: 'missed' as const }
      : null
  return { ticks, missed, nextTickAt: cron.next(now), lastTick }
}

/** Every tick `t` with `from <= t <= to`, oldest first. At most a minute of ticks: cheap. */
function ticksBetween(cron: CronSchedule, from: Date, to: Date): Date[] {
  const out: Date[] = []
  for (let tick = cron.next(new Date(from.getTime() - 1)); tick && tick <= to; tick = cron.next(tick)) out.push(tick)
  return out
}

/** The missed ticks the catch-up policy runs, oldest first. */
function keptLateTicks(input: TickPlanInput, lateUpTo: Date, onTimeRuns: boolean): Date[] {
  const { catchUp, cron, nextTickAt, now } = input
  if (catchUp.mode === 'none' || (catchUp.mode === 'latest' && onTimeRuns)) return []
  const count = catchUp.mode === 'latest' ? 1 : catchUp.max
  const oldest = catchUp.mode === 'bounded' && catchUp.withinMs !== null ? Math.max(nextTickAt.getTime(), now.getTime() - catchUp.withinMs) : nextTickAt.getTime()
  // Counting back from the end of the missed window costs `count` steps, however long the downtime.
  return cron
    .previous(new Date(lateUpTo.getTime() + 1), count)
    .filter((tick) => tick.getTime() >= oldest)
    .reverse()
}

/** The missed ticks before `firstKept`, from the stored next tick on; null when there are none. */
function missedRange(cron: CronSchedule, from: Date, firstKept: Date): { from: Date; to: Date } | null {
  const [to] = cron.previous(firstKept, 1)
  return to && to >= from ? { from, to } : null
}

function decide(ticks: Date[], overlap: Overlap, hasUnfinishedRun: boolean): PlannedTick[] {
  if (overlap === 'allow') return ticks.map((at) => ({ at, decision: 'run' }))
  if (overlap === 'queue') return ticks.map((at) => ({ at, decision: 'hold' }))
  // 'skip': a tick whose predecessor's run is unfinished gets none; within one pass the
  // first tick's run is that predecessor for the rest.
  let busy = hasUnfinishedRun
  return ticks.map((at) => {
    const decision: TickDecision = busy ? 'skip' : 'run'
    busy = true
    return { at, decision }
  })
}
