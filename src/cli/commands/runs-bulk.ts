/**
 * `errand runs cancel-many` and `runs replay-many`: one action over the runs a filter
 * matches, through `runs.cancelMany` / `runs.replayMany`, the same calls as the HTTP API's
 * `POST api/runs/cancel` and `POST api/runs/replay`.
 */
import { CANCEL_MANY_STATUSES, DEFAULT_BULK_MAX, MOST_BULK_MAX, REPLAY_MANY_STATUSES } from '../../runtime/bulk.js'
import { MOST_LISTED } from '../../runtime/runs.js'
import { type BulkOptions, type BulkResult, type Errand, type Run, type RunFilter, type RunStatus } from '../../index.js'
import { integerOption, stringOption, UsageError, type OptionValues } from '../args.js'
import { JSON_OPTION, type Command } from '../command.js'
import { RUN_HEADERS, runRow, table, toJson } from '../format.js'
import { FILTER_OPTIONS, filterOf, matchesEverything } from './run-filter.js'

/** Runs a dry run lists: the first page, as `runs list` would show it. */
const SHOWN = 50

/** One bulk action: what it is called, which statuses it can act on, and the runtime call. */
interface BulkAction {
  name: string
  verb: string
  done: string
  /** The runs the runtime acts on; it passes over the others without a word. */
  statuses: readonly RunStatus[]
  act(errand: Errand, filter: RunFilter, options: BulkOptions): Promise<BulkResult>
}

function bulkCommand(action: BulkAction, summary: string, reason: string, examples: string[], notes: string[]): Command {
  return {
    name: `runs ${action.name}`,
    summary,
    positionals: { min: 0, max: 0 },
    options: {
      ...FILTER_OPTIONS,
      reason: { type: 'string', value: 'TEXT', description: reason },
      max: { type: 'string', value: 'N', description: `Act on at most this many runs, 1 to ${MOST_BULK_MAX}. Default ${DEFAULT_BULK_MAX}` },
      'dry-run': { type: 'boolean', description: 'Only count and list the runs it would act on; change nothing' },
      ...JSON_OPTION,
    },
    examples,
    notes: [
      ...notes,
      `A filter is required: it never acts on every run. Newest first, at most --max; "more match" means runs were left, and running it again acts on them.`,
    ],
    async run({ values, open, out }) {
      const filter = checkedFilter(values, action)
      const max = integerOption(values, 'max', 1, MOST_BULK_MAX)
      const reason = stringOption(values, 'reason')
      const errand = await open()
      if (values['dry-run']) {
        const preview = await previewOf(errand, filter, action, max ?? DEFAULT_BULK_MAX)
        out(values.json ? toJson(preview) : formatPreview(preview, action))
        return 0
      }
      const result = await action.act(errand, filter, { reason, max })
      // The result as it is: the same shape as the HTTP API's answer.
      out(values.json ? toJson(result) : summaryOf(result, action))
      return 0
    },
  }
}

/**
 * The filter, refused before the store opens when it is missing (the runtime refuses too, but
 * only once connected, and in its own words) or names statuses the action passes over: the
 * runtime would answer "0 runs" to `cancel-many --status completed`, which reads like success.
 */
function checkedFilter(values: OptionValues, action: BulkAction): RunFilter {
  const filter = filterOf(values)
  if (matchesEverything(filter)) {
    throw new UsageError(`runs ${action.name} needs a filter (--status, --task, --queue, --schedule, --created-from or --created-before); it never acts on every run`)
  }
  const ignored = ((filter.status ?? []) as RunStatus[]).filter((status) => !action.statuses.includes(status))
  if (ignored.length > 0) throw new UsageError(`runs ${action.name} acts only on ${either(action.statuses)} runs; --status ${ignored.join(',')} matches none it could act on`)
  return filter
}

interface Preview {
  /** Runs it would act on now, at most `max`. */
  count: number
  /** True when more runs match than `max`. */
  more: boolean
  /** The first of them, newest first. */
  runs: Run[]
}

/**
 * What the action would act on, walked the way the runtime walks it: the filter's runs in the
 * statuses the action takes, newest first, up to `max`. Reads only.
 */
async function previewOf(errand: Errand, filter: RunFilter, action: BulkAction, max: number): Promise<Preview> {
  const scope = { ...filter, status: filter.status ?? [...action.statuses] }
  const preview: Preview = { count: 0, more: false, runs: [] }
  let cursor: string | undefined
  for (;;) {
    const first = preview.count === 0
    const page = await errand.runs.list({ ...scope, limit: Math.min(first ? SHOWN : MOST_LISTED, max - preview.count), cursor })
    if (first) preview.runs = page.runs
    preview.count += page.runs.length
    if (!page.nextCursor) return preview
    if (preview.count >= max) return { ...preview, more: true }
    cursor = page.nextCursor
  }
}

function formatPreview(preview: Preview, action: BulkAction): string {
  const head = `Would ${action.verb} ${plural(preview.count)}${preview.more ? '; more match' : ''} (dry run: nothing changed)`
  if (preview.count === 0) return head
  const now = new Date()
  const rest = preview.count - preview.runs.length
  return [head, '', table(RUN_HEADERS, preview.runs.map((run) => runRow(run, now))), ...(rest > 0 ? [`... and ${rest} more`] : [])].join('\n')
}

/** `Cancelled 12 runs; 1 skipped (changed meanwhile); more match: run again`. */
function summaryOf(result: BulkResult, action: BulkAction): string {
  const parts = [`${action.done} ${plural(result.ids.length)}`]
  if (result.skipped > 0) parts.push(`${result.skipped} skipped (changed meanwhile)`)
  if (result.more) parts.push('more match: run again')
  return parts.join('; ')
}

/** `a, b or c`. */
function either(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`
}

function plural(count: number): string {
  return `${count} run${count === 1 ? '' : 's'}`
}

export const cancelMany = bulkCommand(
  {
    name: 'cancel-many',
    verb: 'cancel',
    done: 'Cancelled',
    statuses: CANCEL_MANY_STATUSES,
    act: (errand, filter, options) => errand.runs.cancelMany(filter, options),
  },
  'Cancel every scheduled, queued or running run a filter matches, up to --max',
  'Kept with each run as its cancelReason',
  [
    'errand runs cancel-many --task send-email --queue mail --dry-run',
    'errand runs cancel-many --task send-email --status queued --reason "bad template" --max 500',
  ],
  ['As runs cancel does for one: scheduled and queued runs stop at once, running ones have their ctx.signal aborted. A run that finished meanwhile is skipped.'],
)

export const replayMany = bulkCommand(
  {
    name: 'replay-many',
    verb: 'replay',
    done: 'Replayed',
    statuses: REPLAY_MANY_STATUSES,
    act: (errand, filter, options) => errand.runs.replayMany(filter, options),
  },
  'Replay every finished run a filter matches, up to --max: one new run each',
  'Kept with each new run as its replayReason',
  [
    'errand runs replay-many --task deliver-webhook --status dead_lettered --dry-run',
    'errand runs replay-many --task deliver-webhook --status dead_lettered --created-from 2030-01-31T00:00:00Z --reason "endpoint back"',
  ],
  ['Finished runs are completed, cancelled and dead_lettered ones. The new runs are queued now, with replayOf set; --json lists their ids.'],
)
