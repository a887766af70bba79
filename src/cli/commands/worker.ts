/** `errand worker`: runs the tasks of a module until SIGINT or SIGTERM, then stops gracefully. */
import type { Errand, Run, WorkerOptions } from '../../index.js'
import { durationOption, givenOptions, integerOption, stringOption, UsageError, type OptionValues } from '../args.js'
import type { Command } from '../command.js'
import { registerTasksFrom, TASKS_OPTION } from '../tasks.js'

export const workerCommand: Command = {
  name: 'worker',
  summary: 'Run the tasks of a module: claim, execute, retry, tick their schedules, until Ctrl+C',
  positionals: { min: 0, max: 0 },
  options: {
    ...TASKS_OPTION,
    concurrency: { type: 'string', value: 'N', description: 'Runs executing at once. Default 10' },
    prefetch: { type: 'string', value: 'N', description: 'Runs claimed ahead of free slots, for many short runs. Default 0' },
    only: { type: 'string', value: 'TASK[,TASK]', description: "Run only these of the module's tasks" },
    queue: { type: 'string', multiple: true, value: 'QUEUE', description: 'Take only runs of this serial queue (repeatable)' },
    'forbid-flag': { type: 'string', multiple: true, value: 'FLAG', description: 'Leave runs carrying this flag to other workers (repeatable)' },
    'poll-interval': { type: 'string', value: 'DURATION', description: "Look for due runs this often when nothing wakes the worker. Default '1s'" },
    lease: { type: 'string', value: 'DURATION', description: "How long a claim holds a run without a heartbeat. Default '30s'" },
    retention: { type: 'string', value: 'DURATION|off', description: "Delete finished runs this long after they finish. Default '7d'" },
    'shutdown-timeout': { type: 'string', value: 'DURATION', description: "On Ctrl+C, how long runs in flight may finish before they are aborted and given back. Default '30s'" },
    'no-scheduler': { type: 'boolean', description: 'Do not tick schedules in this worker' },
    quiet: { type: 'boolean', description: 'Print only errors, not a line per finished run' },
  },
  examples: ['errand worker --tasks ./dist/tasks.js', 'errand worker --tasks ./dist/tasks.js --concurrency 50 --prefetch 500', 'errand worker --tasks ./dist/tasks.js --queue mail --only send-email'],
  notes: [
    'The module exports task definitions made with defineTask, handlers included; any number of workers, in any number of processes or machines, may run against one database.',
    'The first Ctrl+C (or SIGTERM) stops claiming and lets runs in flight finish within --shutdown-timeout; those still running then are aborted and given back to the queue. A second one exits at once.',
  ],
  async run({ values, open, out, err, signal }) {
    const options = workerOptionsOf(values)
    const shutdownTimeout = durationOption(values, 'shutdown-timeout')
    const modulePath = stringOption(values, 'tasks')
    if (modulePath === undefined) throw new UsageError('worker needs --tasks MODULE, the module that exports your task definitions')
    // A worker is where a database starts its life: create the SQLite file if it is missing.
    const errand = await open({ create: true })
    const names = await registerTasksFrom(errand, modulePath)
    for (const name of options.tasks ?? []) {
      if (!names.includes(name)) throw new UsageError(`--only: the module exports no task "${name}" (it has ${names.join(', ')})`)
    }
    if (!values.quiet) printRunEvents(errand, out)
    errand.on('worker.error', ({ error }) => err(`worker error: ${error.message}`))
    const worker = errand.worker(options)
    await worker.start()
    out(`errand worker ${worker.id}: ${(options.tasks ?? names).join(', ')}, concurrency ${options.concurrency ?? 10} (Ctrl+C to stop)`)
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))
    out('Stopping: runs in flight finish first (Ctrl+C again to exit now)')
    await worker.stop({ timeout: shutdownTimeout })
    out('Stopped')
    return 0
  },
}

/** Each value is parsed here, before the store opens; `errand.worker` checks how they combine. */
function workerOptionsOf(values: OptionValues): WorkerOptions {
  const retention = stringOption(values, 'retention')
  const only = stringOption(values, 'only')
  const queues = values.queue
  const forbidden = values['forbid-flag']
  const options: WorkerOptions = {
    concurrency: integerOption(values, 'concurrency', 1, 10_000),
    prefetch: integerOption(values, 'prefetch', 0, 100_000),
    tasks: only?.split(',').map((name) => name.trim()).filter(Boolean),
    queues: Array.isArray(queues) ? queues : undefined,
    forbiddenFlags: Array.isArray(forbidden) ? forbidden : undefined,
    pollInterval: durationOption(values, 'poll-interval'),
    lease: durationOption(values, 'lease'),
    retention: retention === 'off' ? false : durationOption(values, 'retention'),
    scheduler: values['no-scheduler'] !== true,
  }
  if (options.tasks?.length === 0) throw new UsageError('--only needs at least one task name')
  return givenOptions(options)
}

/** One line per run that finishes an attempt in this worker, as a log to read or grep. */
function printRunEvents(errand: Errand, out: (text: string) => void): void {
  const name = (run: Run) => `${run.task} ${run.id}`
  errand.on('run.completed', ({ run, durationMs }) => out(`completed     ${name(run)} in ${durationMs} ms`))
  errand.on('run.failed', ({ run, error, retryAt }) => out(`failed        ${name(run)} attempt ${run.attempt}: ${error.message}${retryAt ? `; retry at ${retryAt.toISOString()}` : ''}`))
  errand.on('run.dead_lettered', ({ run, error }) => out(`dead-lettered ${name(run)} after ${run.attempt} attempts: ${error.message}`))
  errand.on('run.cancelled', ({ run }) => out(`cancelled     ${name(run)}`))
}
