/**
 * Which runs a command is about: the filter flags `runs list` takes, shared with the bulk
 * commands so that what `runs list` shows is what `runs cancel-many` acts on.
 */
import { RUN_STATUSES, type RunFilter, type RunStatus } from '../../index.js'
import { stringOption, timeOption, UsageError, type OptionSpecs, type OptionValues } from '../args.js'

export const FILTER_OPTIONS: OptionSpecs = {
  status: { type: 'string', value: 'S[,S]', description: `Only these statuses: ${RUN_STATUSES.join(', ')}` },
  task: { type: 'string', value: 'TASK', description: 'Only runs of this task' },
  queue: { type: 'string', value: 'QUEUE', description: 'Only runs of this serial queue' },
  schedule: { type: 'string', value: 'KEY', description: 'Only runs made by this schedule' },
  'created-from': { type: 'string', value: 'ISO', description: 'Only runs created at or after this time' },
  'created-before': { type: 'string', value: 'ISO', description: 'Only runs created before this time' },
}

/** The filter the flags spell, every value checked; a flag not given is undefined. */
export function filterOf(values: OptionValues): RunFilter {
  return {
    status: statusesOf(values),
    task: stringOption(values, 'task'),
    queue: stringOption(values, 'queue'),
    schedule: stringOption(values, 'schedule'),
    createdFrom: timeOption(values, 'created-from'),
    createdBefore: timeOption(values, 'created-before'),
  }
}

/** True when no filter flag was given: the filter would match every run. */
export function matchesEverything(filter: RunFilter): boolean {
  return Object.values(filter).every((value) => value === undefined)
}

function statusesOf(values: OptionValues): RunStatus[] | undefined {
  const text = stringOption(values, 'status')
  if (text === undefined) return undefined
  const statuses = text.split(',').map((status) => status.trim()).filter(Boolean)
  for (const status of statuses) {
    if (!RUN_STATUSES.includes(status as RunStatus)) throw new UsageError(`unknown status "${status}"; one of ${RUN_STATUSES.join(', ')}`)
  }
  if (statuses.length === 0) throw new UsageError('--status needs at least one status')
  return statuses as RunStatus[]
}
