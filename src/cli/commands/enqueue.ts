/** `errand enqueue`: a run of a task, with the same validation as `errand.enqueue` and the HTTP API. */
import { MAX_ATTEMPTS } from '../../core/retry.js'
import type { EnqueueOptions } from '../../index.js'
import { durationOption, givenOptions, INT32, integerOption, parseJson, stringOption, timeOption, UsageError } from '../args.js'
import { JSON_OPTION, type Command } from '../command.js'
import { toJson } from '../format.js'
import { registerTasksWith, TASKS_OPTION } from '../tasks.js'

export const enqueueCommand: Command = {
  name: 'enqueue',
  summary: "Enqueue a run of a task from your tasks module, its payload checked against the task's input schema",
  args: '<task> [payload-json | -]',
  positionals: { min: 1, max: 2 },
  options: {
    ...TASKS_OPTION,
    delay: { type: 'string', value: 'DURATION', description: "Run after this long ('30s', '5m', '1h30m')" },
    'run-at': { type: 'string', value: 'ISO', description: 'Run at this time. Not with --delay' },
    priority: { type: 'string', value: 'N', description: 'Smaller runs first. Default the task’s, else 0' },
    queue: { type: 'string', value: 'QUEUE', description: 'Serial queue: its runs run one at a time, in order' },
    'idempotency-key': { type: 'string', value: 'KEY', description: 'While a run of the task with this key exists, return it instead' },
    'job-key': { type: 'string', value: 'KEY', description: 'The run’s job key (a new enqueue with it replaces the waiting run)' },
    'max-attempts': { type: 'string', value: 'N', description: 'Attempts in all, the first included' },
    ...JSON_OPTION,
  },
  examples: [
    `errand enqueue send-email '{"to":"ada@example.com"}' --tasks ./dist/tasks.js`,
    'errand enqueue nightly-report --tasks ./dist/tasks.js --run-at 2030-01-31T02:00:00Z --queue reports',
    'cat payload.json | errand enqueue import-file - --tasks ./dist/tasks.js --idempotency-key upload-42',
  ],
  notes: [
    'The payload is JSON (default null); - reads it from standard input.',
    'errand enqueues only tasks whose definition it has, to validate the payload and apply the task defaults: --tasks names a module (JavaScript, or anything your node can import) that exports them. It is imported, so it should only define tasks, not start workers. Schedules declared on its tasks are synced to the store, as on any first use.',
    'Prints the run; "exists" instead of "created" when an idempotency or job key returned an existing run.',
  ],
  async run({ positionals, values, open, out, readStdin }) {
    const [task, payloadArg] = positionals as [string, string | undefined]
    const tasksModule = stringOption(values, 'tasks')
    const options = enqueueOptionsOf(values)
    const payload = payloadArg === undefined ? null : parseJson(payloadArg === '-' ? await readStdin() : payloadArg, 'the payload')
    if (tasksModule === undefined) throw new UsageError(`enqueue needs the task definitions: pass --tasks <module> (see errand enqueue --help)`)
    const errand = await open()
    await registerTasksWith(errand, tasksModule, task)
    const handle = await errand.enqueue(task, payload, options)
    if (values.json) out(toJson({ run: handle.run, created: handle.created, reason: handle.reason }))
    else out(`${handle.created ? 'Created' : `Exists (${handle.reason})`} run ${handle.id} of ${handle.task}: ${handle.run.status}, run at ${handle.run.runAt.toISOString()}`)
    return 0
  },
}

/** The flags as enqueue options; every one checked here, before anything is opened. */
function enqueueOptionsOf(values: Record<string, string | boolean | string[] | undefined>): EnqueueOptions {
  const options: EnqueueOptions = {
    delay: durationOption(values, 'delay'),
    runAt: timeOption(values, 'run-at'),
    priority: integerOption(values, 'priority', -INT32, INT32),
    queue: stringOption(values, 'queue'),
    idempotencyKey: stringOption(values, 'idempotency-key'),
    jobKey: stringOption(values, 'job-key'),
    maxAttempts: integerOption(values, 'max-attempts', 1, MAX_ATTEMPTS),
  }
  if (options.delay !== undefined && options.runAt !== undefined) throw new UsageError('pass either --delay or --run-at, not both')
  // Unset options are left out, so the task's defaults apply.
  return givenOptions(options)
}
