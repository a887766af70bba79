/** `errand schedules upsert`: create a recurring schedule, or update the one with that key. */
import { MAX_ATTEMPTS } from '../../core/retry.js'
import { MAX_CATCH_UP } from '../../core/schedule.js'
import { ErrandError, type CatchUp, type Schedule, type ScheduleOptions, type ScheduleRunOptions } from '../../index.js'
import { checkScheduleOptions } from '../../runtime/schedule-spec.js'
import { durationOption, givenOptions, INT32, integerOption, parseJson, stringOption, UsageError, type OptionValues } from '../args.js'
import { JSON_OPTION, type Command } from '../command.js'
import { compact, fields, toJson, when } from '../format.js'
import { registerTasksWith, TASKS_OPTION } from '../tasks.js'

export const upsertCommand: Command = {
  name: 'schedules upsert',
  summary: 'Create a recurring schedule of a task from your tasks module, or update the one with this key',
  args: '<key>',
  positionals: { min: 1, max: 1 },
  options: {
    ...TASKS_OPTION,
    task: { type: 'string', value: 'TASK', description: 'The task each tick enqueues a run of. Required' },
    cron: { type: 'string', value: 'EXPR', description: "Five fields ('0 9 * * MON-FRI'), six with seconds first, or @hourly, @daily... Required" },
    timezone: { type: 'string', value: 'TZ', description: "IANA time zone the expression reads in ('Europe/Berlin'). Default UTC" },
    payload: { type: 'string', value: 'JSON', description: "The payload of every run, checked against the task's input schema; - reads it from standard input" },
    'catch-up': { type: 'string', value: 'none|latest|N', description: `Ticks missed while no scheduler ran: none, latest (default: one run), or runs for up to N (1 to ${MAX_CATCH_UP}) of them` },
    'catch-up-within': { type: 'string', value: 'DURATION', description: "With --catch-up N: only missed ticks at most this old ('6h')" },
    overlap: { type: 'string', value: 'allow|skip|queue', description: 'A tick while a run of the schedule is unfinished: allow (default) runs anyway, skip drops it, queue holds its run until the earlier ones finish' },
    paused: { type: 'boolean', description: 'Pause it. Without: a new schedule is active, an existing one keeps its state' },
    priority: { type: 'string', value: 'N', description: 'Run option: smaller runs first. Default the task’s, else 0' },
    'max-attempts': { type: 'string', value: 'N', description: 'Run option: attempts in all, the first included' },
    timeout: { type: 'string', value: 'DURATION|none', description: "Run option: limit of each attempt ('5m'), or none" },
    queue: { type: 'string', value: 'QUEUE', description: 'Run option: serial queue of its runs' },
    'concurrency-key': { type: 'string', value: 'KEY', description: 'Run option: at most --concurrency-limit runs of this key at once' },
    'concurrency-limit': { type: 'string', value: 'N', description: 'Run option: with --concurrency-key. Default 1' },
    flag: { type: 'string', multiple: true, value: 'FLAG', description: 'Run option: a flag of its runs (repeatable); workers that forbid it leave them' },
    ...JSON_OPTION,
  },
  examples: [
    `errand schedules upsert nightly-report --task report --cron '0 2 * * *' --timezone Europe/Berlin --tasks ./dist/tasks.js`,
    `errand schedules upsert prices-eu --task refresh-prices --cron '*/5 * * * *' --payload '{"market":"eu"}' --overlap skip --tasks ./dist/tasks.js`,
    `errand schedules upsert hourly-sync --task sync --cron @hourly --catch-up 24 --catch-up-within 1d --paused --tasks ./dist/tasks.js`,
    `errand schedules upsert nightly-report --task report --cron '0 2 * * *' --queue reports --priority 5 --timeout 30m --tasks ./dist/tasks.js`,
  ],
  notes: [
    'As errand.schedules.upsert: the whole schedule is written, so a setting left out takes its default again (catch-up latest, overlap allow, no payload), except the paused state, and the run options (priority, queue, timeout...) when no run-option flag is given: they are kept then. Any run-option flag replaces them all. The next tick is kept unless the cron expression or time zone changed.',
    "--tasks names the module of task definitions, as for errand enqueue: the payload is checked against the task's input schema when the schedule is written. Nothing is written when the cron expression, time zone, payload or a policy is refused.",
    'A schedule declared in code is written again the next time a worker of that code starts. Only workers tick schedules.',
  ],
  async run({ positionals, values, open, out, readStdin }) {
    const key = positionals[0] as string
    const tasksModule = stringOption(values, 'tasks')
    if (tasksModule === undefined) throw new UsageError('schedules upsert needs the task definitions: pass --tasks <module> (see errand schedules upsert --help)')
    const options = await scheduleOptionsOf(key, values, readStdin)
    const errand = await open()
    await registerTasksWith(errand, tasksModule, options.task as string)
    const existing = await errand.schedules.get(key)
    // Without run-option flags an update keeps the schedule's run options (set in code or
    // through the API, perhaps some this command has no flag for), where an upsert without
    // them would clear them.
    if (existing && options.options === undefined) options.options = existing.options
    // Throws ValidationError (exit 2) when the task's schema refuses the payload; nothing is written then.
    const schedule = await errand.schedules.upsert(options)
    out(values.json ? toJson({ schedule }) : formatUpserted(schedule, existing !== null, new Date()))
    return 0
  },
}

/**
 * The flags as schedule options, checked here with the runtime's own check (cron expression,
 * time zone, key, policies), so a mistake is a usage error before the store is opened. Only
 * the payload against the task's schema is left to the runtime: that needs the task.
 */
async function scheduleOptionsOf(key: string, values: OptionValues, readStdin: () => Promise<string>): Promise<ScheduleOptions> {
  const task = stringOption(values, 'task')
  const cron = stringOption(values, 'cron')
  if (task === undefined || cron === undefined) throw new UsageError('schedules upsert needs --task TASK and --cron EXPR (see errand schedules upsert --help)')
  const payloadText = stringOption(values, 'payload')
  const options: ScheduleOptions = {
    key,
    task,
    cron,
    timezone: stringOption(values, 'timezone'),
    catchUp: catchUpOf(values),
    overlap: stringOption(values, 'overlap') as ScheduleOptions['overlap'],
    // Left out unless --paused, so an update keeps an existing schedule's state.
    enabled: values.paused === true ? false : undefined,
    options: runOptionsOf(values),
  }
  try {
    checkScheduleOptions(options)
  } catch (error) {
    // InvalidCronError and InvalidOptionError: their messages name the value and what is allowed.
    if (error instanceof ErrandError) throw new UsageError(error.message)
    throw error
  }
  // Read last: standard input is read only when everything else is fine.
  if (payloadText !== undefined) options.payload = parseJson(payloadText === '-' ? await readStdin() : payloadText, 'the payload')
  return options
}

/**
 * The run options given as flags, or undefined when none is: then an update keeps the
 * schedule's own (see run), where any one of them replaces them all, as an upsert does.
 */
function runOptionsOf(values: OptionValues): ScheduleRunOptions | undefined {
  const timeout = stringOption(values, 'timeout')
  if (timeout !== undefined && timeout !== 'none') durationOption(values, 'timeout') // refuses a malformed one as a usage error
  const flags = values.flag as string[] | undefined
  const options: ScheduleRunOptions = {
    priority: integerOption(values, 'priority', -INT32, INT32),
    maxAttempts: integerOption(values, 'max-attempts', 1, MAX_ATTEMPTS),
    timeout: timeout === 'none' ? false : timeout,
    queue: stringOption(values, 'queue'),
    concurrencyKey: stringOption(values, 'concurrency-key'),
    concurrencyLimit: integerOption(values, 'concurrency-limit', 1, INT32),
    flags,
  }
  const given = givenOptions(options)
  return Object.keys(given).length === 0 ? undefined : given
}

/** `none`, `latest`, or a number of missed ticks to make up, optionally only those within a duration. */
function catchUpOf(values: OptionValues): CatchUp | undefined {
  const text = stringOption(values, 'catch-up')?.trim()
  const within = stringOption(values, 'catch-up-within')
  durationOption(values, 'catch-up-within') // refuses a malformed duration here, as a usage error
  if (text === 'none' || text === 'latest' || text === undefined) {
    if (within !== undefined) throw new UsageError('--catch-up-within goes with --catch-up N (a number of missed ticks)')
    return text
  }
  if (!/^\d+$/.test(text)) throw new UsageError(`--catch-up must be none, latest or a number of missed ticks from 1 to ${MAX_CATCH_UP}, got ${JSON.stringify(text)}`)
  const max = integerOption(values, 'catch-up', 1, MAX_CATCH_UP) as number
  // The duration as typed ('6h'): the runtime reads it the same way, and it reads back as written.
  return within === undefined ? { max } : { max, within }
}

/** Whether it was created or updated, and the schedule as `schedules list` names its columns. */
function formatUpserted(schedule: Schedule, existed: boolean, now: Date): string {
  return [
    `${existed ? 'Updated' : 'Created'} schedule ${schedule.key}`,
    fields([
      ['task', schedule.task],
      ['cron', schedule.cron],
      ['time zone', schedule.timezone],
      ['state', schedule.enabled ? 'active' : 'paused'],
      ['next tick', when(schedule.nextTickAt, now)],
      ['catch-up', typeof schedule.catchUp === 'string' ? schedule.catchUp : compact(schedule.catchUp)],
      ['overlap', schedule.overlap],
      // A schedule without a payload reads back null: nothing worth a line.
      ['payload', schedule.payload === undefined || schedule.payload === null ? undefined : compact(schedule.payload)],
    ]),
  ].join('\n')
}
