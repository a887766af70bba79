/** `errand runs ...`: list, inspect, cancel, replay and wait for runs, one or many, and count them. */
import { RunCancelledError, RunFailedError, WaitTimeoutError, type Errand, type Run } from '../../index.js'
import { CommandError, durationOption, integerOption, stringOption } from '../args.js'
import { JSON_OPTION, type Command } from '../command.js'
import { RUN_HEADERS, runRow, table, toJson } from '../format.js'
import { formatCounts, formatRunDetail } from './run-detail.js'
import { FILTER_OPTIONS, filterOf } from './run-filter.js'
import { cancelMany, replayMany } from './runs-bulk.js'

/** Exit code of `runs wait` when the timeout passed first. */
export const WAIT_TIMEOUT_EXIT = 3

const list: Command = {
  name: 'runs list',
  summary: 'List runs, newest first, with filters and cursor paging',
  positionals: { min: 0, max: 0 },
  options: {
    ...FILTER_OPTIONS,
    limit: { type: 'string', value: 'N', description: 'Runs per page, 1 to 1000. Default 50' },
    after: { type: 'string', value: 'CURSOR', description: 'The next-page cursor the previous page printed' },
    ...JSON_OPTION,
  },
  examples: ['errand runs list', 'errand runs list --status queued,running --task send-email --limit 20', 'errand runs list --after <cursor> --json'],
  async run({ values, open, out }) {
    const options = {
      ...filterOf(values),
      limit: integerOption(values, 'limit', 1, 1000),
      cursor: stringOption(values, 'after'),
    }
    const page = await (await open()).runs.list(options)
    if (values.json) {
      out(toJson(page))
      return 0
    }
    const now = new Date()
    out(page.runs.length === 0 ? 'No runs.' : table(RUN_HEADERS, page.runs.map((run) => runRow(run, now))))
    if (page.nextCursor) out(`\nMore: --after ${page.nextCursor}`)
    return 0
  },
}

async function runOrFail(errand: Errand, id: string): Promise<Run> {
  const run = await errand.runs.get(id)
  if (!run) throw new CommandError(`Run ${id} not found`)
  return run
}

const get: Command = {
  name: 'runs get',
  summary: 'Show a run with its attempts, durable steps and logs',
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: { ...JSON_OPTION },
  examples: ['errand runs get 0190a1b2-...', 'errand runs get 0190a1b2-... --json'],
  async run({ positionals, values, open, out }) {
    const errand = await open()
    const run = await runOrFail(errand, positionals[0] as string)
    // The same shape as the HTTP API's GET api/runs/:id.
    const [attempts, steps, logs] = await Promise.all([errand.runs.attempts(run.id), errand.runs.steps(run.id), errand.runs.logs(run.id, { limit: 1_000 })])
    out(values.json ? toJson({ run, attempts, steps, logs }) : formatRunDetail({ run, attempts, steps, logs }, new Date()))
    return 0
  },
}

const cancel: Command = {
  name: 'runs cancel',
  summary: "Cancel a run: a scheduled or queued one stops at once, a running one has its ctx.signal aborted",
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: { reason: { type: 'string', value: 'TEXT', description: 'Kept with the run as its cancelReason' }, ...JSON_OPTION },
  examples: ['errand runs cancel 0190a1b2-... --reason "customer asked"'],
  async run({ positionals, values, open, out }) {
    const id = positionals[0] as string
    // An unknown id throws RunNotFoundError, a finished run InvalidTransitionError: both exit 1.
    const run = await (await open()).runs.cancel(id, { reason: stringOption(values, 'reason') })
    out(values.json ? toJson({ run }) : `Cancelled run ${run.id} (${run.task})`)
    return 0
  },
}

const replay: Command = {
  name: 'runs replay',
  summary: 'Replay a finished run: a new run of the same task, payload and settings, with replayOf set',
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: { reason: { type: 'string', value: 'TEXT', description: "Kept with the new run as its replayReason" }, ...JSON_OPTION },
  examples: ['errand runs replay 0190a1b2-... --reason "provider fixed"'],
  notes: ['Only finished runs (completed, cancelled, dead_lettered) can be replayed. The new run is queued now; a worker of its task runs it.'],
  async run({ positionals, values, open, out }) {
    const id = positionals[0] as string
    const handle = await (await open()).runs.replay(id, { reason: stringOption(values, 'reason') })
    out(values.json ? toJson({ run: handle.run }) : `Replayed run ${id} as ${handle.id} (${handle.status})`)
    return 0
  },
}

const wait: Command = {
  name: 'runs wait',
  summary: 'Wait until a run finishes; exit 0 if it completed',
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: { timeout: { type: 'string', value: 'DURATION', description: "Give up after this long ('30s', '5m'). Default: wait as long as it takes" }, ...JSON_OPTION },
  examples: ['errand runs wait 0190a1b2-... --timeout 5m'],
  notes: [`Exit codes: 0 completed (its output is printed), 1 dead_lettered or cancelled, ${WAIT_TIMEOUT_EXIT} still unfinished when the timeout passed.`],
  async run({ positionals, values, open, out, signal }) {
    const timeout = durationOption(values, 'timeout')
    const id = positionals[0] as string
    const { run, done } = await waitForRun(await open(), id, timeout, signal)
    if (values.json) out(toJson({ run, done }))
    else if (!done) out(`Run ${id} is still ${run.status}`)
    else out(run.status === 'completed' ? `Run ${id} completed: ${JSON.stringify(run.output) ?? 'null'}` : `Run ${id} ${run.status}${finalReason(run)}`)
    return !done ? WAIT_TIMEOUT_EXIT : run.status === 'completed' ? 0 : 1
  },
}

function finalReason(run: Run): string {
  if (run.status === 'cancelled') return run.cancelReason ? `: ${run.cancelReason}` : ''
  return run.error ? `: ${run.error.name}: ${run.error.message}` : ''
}

/** The run once final (`done`), or as it stands when the timeout passes or a signal arrives. */
async function waitForRun(errand: Errand, id: string, timeout: number | undefined, signal: AbortSignal): Promise<{ run: Run; done: boolean }> {
  const stopped = new Promise<'stopped'>((resolve) => signal.addEventListener('abort', () => resolve('stopped'), { once: true }))
  try {
    const result = await Promise.race([errand.runs.wait(id, { timeout }), stopped])
    if (result === 'stopped') return { run: await runOrFail(errand, id), done: false }
    return { run: result, done: true }
  } catch (thrown) {
    if (thrown instanceof RunFailedError || thrown instanceof RunCancelledError) return { run: thrown.run as Run, done: true }
    if (thrown instanceof WaitTimeoutError) return { run: await runOrFail(errand, id), done: false }
    throw thrown
  }
}

const counts: Command = {
  name: 'runs counts',
  summary: 'Count runs by status, per task and per queue',
  positionals: { min: 0, max: 0 },
  options: { ...JSON_OPTION },
  examples: ['errand runs counts', 'errand runs counts --json'],
  async run({ values, open, out }) {
    const result = await (await open()).runs.counts()
    out(values.json ? toJson(result) : formatCounts(result))
    return 0
  },
}

export const runCommands: Command[] = [list, get, cancel, replay, cancelMany, replayMany, wait, counts]
