/**
 * Cron expressions, behind one function. The parsing and the calendar arithmetic (time
 * zones, daylight saving) are croner's; errand only asks "the next tick after t" and "the
 * ticks before t". Pure: no timers are started, and every question carries its own time,
 * so no clock is read here.
 */
import { Cron } from 'croner'
import { InvalidCronError } from './errors.js'

/** A compiled cron expression in one time zone. */
export interface CronSchedule {
  readonly expression: string
  readonly timezone: string
  /** The first tick strictly after `after`, or null if there is none. */
  next(after: Date): Date | null
  /** Up to `count` ticks strictly before `before`, newest first. */
  previous(before: Date, count: number): Date[]
}

/** The time zone of a schedule that names none. */
export const DEFAULT_TIMEZONE = 'UTC'

/**
 * Compiles `expression` for `timezone` (an IANA name, default `'UTC'`). Accepts five
 * fields (minute precision), six with seconds first, and the nicknames `@yearly`
 * `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`. Day of month and day of
 * week combine with OR, as in Vixie cron.
 *
 * Daylight saving, as croner implements it: a schedule at a fixed local time (`30 2 * * *`)
 * whose time is skipped by a spring-forward runs at the first valid time after the gap, and
 * runs once when a fall-back repeats its time; an interval schedule (`*\/30 * * * *`)
 * skips times that do not exist and runs on both occurrences of a repeated one.
 *
 * Throws {@link InvalidCronError} for a malformed expression, an unknown time zone, or an
 * expression that never fires (`0 0 30 2 *`).
 */
export function compileCron(expression: unknown, timezone: unknown = DEFAULT_TIMEZONE): CronSchedule {
  if (typeof expression !== 'string' || expression.trim() === '') throw new InvalidCronError('A cron expression must be a non-empty string')
  const zone = checkTimezone(timezone)
  let cron: Cron
  try {
    // Without a callback croner schedules nothing: this object only answers questions.
    cron = new Cron(expression.trim(), { timezone: zone, mode: '5-or-6-parts' })
  } catch (error) {
    throw new InvalidCronError(`Invalid cron expression "${expression}": ${reason(error)}`)
  }
  const schedule: CronSchedule = {
    expression,
    timezone: zone,
    next: (after) => cron.nextRun(after),
    previous: (before, count) => (count > 0 ? cron.previousRuns(count, before) : []),
  }
  // An impossible date (February 30th) parses, but would silently never run.
  if (schedule.next(new Date(0)) === null) throw new InvalidCronError(`The cron expression "${expression}" never fires`)
  return schedule
}

/** Checks an IANA time zone name the way the runtime will use it, with Intl. */
function checkTimezone(timezone: unknown): string {
  if (typeof timezone !== 'string' || timezone === '') throw new InvalidCronError('A time zone must be a non-empty IANA name such as "Europe/Berlin"')
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone })
  } catch {
    throw new InvalidCronError(`Unknown time zone "${timezone}": use an IANA name such as "America/New_York" or "UTC"`)
  }
  return timezone
}

function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/^CronPattern: /, '')
}
