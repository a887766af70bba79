import { parseDuration, type Duration } from '../core/durations.js'
import { InvalidOptionError } from '../core/errors.js'
import { RUN_STATUSES, type RunStatus } from '../core/run-state.js'
import type { ErrandInternals } from './internals.js'

/** Run counts by status. Every status is present, zero included. */
export type StatusCounts = Record<RunStatus, number>

/** What `runs.counts()` returns. */
export interface RunCounts {
  total: number
  byStatus: StatusCounts
  /** Every task with runs, and every registered task (with zeros), by name. */
  byTask: Array<{ task: string; total: number; byStatus: StatusCounts }>
  /** Every queue with runs, by name. Runs without a queue are not listed here. */
  byQueue: Array<{ queue: string; total: number; byStatus: StatusCounts }>
}

/** Options of `runs.activity()`. */
export interface RunActivityOptions {
  /** How far back: a duration before now, or a time. Default `'1h'`; at most 7 days. */
  since?: Duration | Date
  /** Width of a bucket. Default `'1m'`; at most 1,440 buckets in all. */
  bucket?: Duration
}

/** Runs that ended within one bucket, by final status. */
export interface ActivityBucket {
  /** Start of the bucket. */
  at: Date
  completed: number
  deadLettered: number
  cancelled: number
}

/** What `runs.activity()` returns: every bucket from `since` to now, oldest first, zeros included. */
export interface RunActivity {
  since: Date
  bucketMs: number
  buckets: ActivityBucket[]
}

const MAX_WINDOW_MS = 7 * 86_400_000
const MAX_BUCKETS = 1_440

function zeros(): StatusCounts {
  return Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as StatusCounts
}

/** Counts by status, per task and per queue, from the store's maintained counters. */
export async function countRuns(internals: ErrandInternals): Promise<RunCounts> {
  await internals.ready()
  const rows = await internals.driver.runCountByStatus()
  const byStatus = zeros()
  const tasks = new Map<string, StatusCounts>(internals.taskNames().map((name) => [name, zeros()]))
  const queues = new Map<string, StatusCounts>()
  for (const row of rows) {
    if (!RUN_STATUSES.includes(row.status)) continue
    byStatus[row.status] += row.count
    const task = tasks.get(row.task) ?? zeros()
    task[row.status] += row.count
    tasks.set(row.task, task)
    if (row.queue === null) continue
    const queue = queues.get(row.queue) ?? zeros()
    queue[row.status] += row.count
    queues.set(row.queue, queue)
  }
  const sum = (counts: StatusCounts) => Object.values(counts).reduce((a, b) => a + b, 0)
  const list = <K extends string>(key: K, map: Map<string, StatusCounts>) =>
    [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, counts]) => ({ [key]: name, total: sum(counts), byStatus: counts }) as Record<K, string> & { total: number; byStatus: StatusCounts })
  return { total: sum(byStatus), byStatus, byTask: list('task', tasks), byQueue: list('queue', queues) }
}

/** Runs that ended per time bucket, from `since` to now. */
export async function runActivity(internals: ErrandInternals, options: RunActivityOptions = {}): Promise<RunActivity> {
  const now = internals.clock.now().getTime()
  const bucketMs = parseDuration(options.bucket ?? '1m')
  const since = options.since instanceof Date ? options.since.getTime() : now - parseDuration(options.since ?? '1h')
  if (!Number.isFinite(since) || since > now || now - since > MAX_WINDOW_MS) throw new InvalidOptionError('since must be a time within the last 7 days')
  if (bucketMs < 1_000 || (now - since) / bucketMs > MAX_BUCKETS) throw new InvalidOptionError(`bucket must be at least 1s and make at most ${MAX_BUCKETS} buckets`)
  await internals.ready()
  const first = Math.floor(since / bucketMs) * bucketMs
  const buckets: ActivityBucket[] = []
  for (let at = first; at <= now; at += bucketMs) buckets.push({ at: new Date(at), completed: 0, deadLettered: 0, cancelled: 0 })
  for (const row of await internals.driver.runActivity({ since: new Date(first), bucketMs })) {
    const bucket = buckets[Math.round((row.at.getTime() - first) / bucketMs)]
    if (!bucket) continue
    if (row.status === 'completed') bucket.completed += row.count
    else if (row.status === 'dead_lettered') bucket.deadLettered += row.count
    else bucket.cancelled += row.count
  }
  return { since: new Date(first), bucketMs, buckets }
}
