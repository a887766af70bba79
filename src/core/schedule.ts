/**
 * What a schedule is made of, checked: its key, its catch-up policy after downtime and
 * what it does when the previous run is still going. Pure.
 */
import { parseDuration, type Duration } from './durations.js'
import { InvalidOptionError } from './errors.js'
import { checkWholeNumber } from './whole-number.js'

/**
 * What to do with ticks missed while no scheduler ran (more than {@link LATE_AFTER_MS}
 * behind):
 * - `'none'`: drop them; the schedule goes on from its next tick.
 * - `'latest'` (default): one run for the most recent missed tick, unless a tick on time
 *   runs anyway.
 * - `{ max, within }`: runs for up to `max` of the most recent missed ticks, only those
 *   at most `within` old (default: no age limit).
 */
export type CatchUp = 'none' | 'latest' | { max: number; within?: Duration }

/**
 * When a tick comes while a run of the schedule is unfinished (scheduled, queued or running):
 * - `'allow'` (default): run anyway; runs may overlap.
 * - `'skip'`: no run for that tick; the skip is recorded and reported.
 * - `'queue'`: the tick's run waits (held `scheduled`) until every earlier run of the
 *   schedule has finished; the schedule's runs then go one at a time, in tick order.
 */
export type Overlap = 'allow' | 'skip' | 'queue'

/** The catch-up policy of a schedule that names none: one run for the missed ticks, not a flood. */
export const DEFAULT_CATCH_UP: CatchUp = 'latest'
/** The overlap policy of a schedule that names none: every tick gets its run, as in classic cron. */
export const DEFAULT_OVERLAP: Overlap = 'allow'

/**
 * A tick at most this late (in ms) is on time: it runs whatever `catchUp` says. Scheduler
 * pauses, a slow database, a failover between processes or clock skew between them make
 * ticks a little late without anything having been missed.
 */
export const LATE_AFTER_MS = 60_000

/** Most missed ticks one `{ max }` catch-up may run. */
export const MAX_CATCH_UP = 1_000

/** A catch-up policy in the form the planner uses. */
export type ResolvedCatchUp = { mode: 'none' } | { mode: 'latest' } | { mode: 'bounded'; max: number; withinMs: number | null }

/** Checks a schedule key: a non-empty string of at most 200 characters. */
export function checkScheduleKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
    throw new InvalidOptionError('A schedule key must be a non-empty string of at most 200 characters')
  }
  return key
}

/** Checks and resolves a catch-up policy; `undefined` is the default, `'latest'`. */
export function resolveCatchUp(catchUp: unknown): ResolvedCatchUp {
  if (catchUp === undefined || catchUp === 'latest') return { mode: 'latest' }
  if (catchUp === 'none') return { mode: 'none' }
  if (typeof catchUp === 'object' && catchUp !== null && !Array.isArray(catchUp)) {
    const { max, within, ...rest } = catchUp as { max?: unknown; within?: unknown }
    const extra = Object.keys(rest)
    if (extra.length > 0) throw new InvalidOptionError(`Unknown catchUp field "${extra[0]}"; use { max, within }`)
    const checkedMax = checkWholeNumber(max, 'catchUp.max', 1, MAX_CATCH_UP)
    const withinMs = within === undefined ? null : parseDuration(within as Duration)
    return { mode: 'bounded', max: checkedMax, withinMs }
  }
  throw new InvalidOptionError(`catchUp must be 'none', 'latest' or { max, within }, got ${JSON.stringify(catchUp) ?? String(catchUp)}`)
}

/** Checks an overlap policy; `undefined` is the default, `'allow'`. */
export function checkOverlap(overlap: unknown): Overlap {
  if (overlap === undefined) return DEFAULT_OVERLAP
  if (overlap === 'allow' || overlap === 'skip' || overlap === 'queue') return overlap
  throw new InvalidOptionError(`overlap must be 'allow', 'skip' or 'queue', got ${JSON.stringify(overlap) ?? String(overlap)}`)
}
