import { parseDuration, type Duration } from '../core/durations.js'
import { InvalidOptionError } from '../core/errors.js'
import { checkFlags, checkName } from '../core/queue-options.js'

/**
 * How long a handler may keep running after its signal aborted before it is reported: time
 * enough to clean up on the signal; past it, the handler is most likely not listening.
 */
const DEFAULT_ABORT_IGNORED_AFTER = '1s'

/** Most flags a worker may forbid. */
const MAX_FORBIDDEN_FLAGS = 1_000

/** Flags a worker refuses: a list, or a function asked before every claim (it may be async). */
export type ForbiddenFlags = string[] | (() => string[] | Promise<string[]>)

/** Options of `errand.worker(...)`. */
export interface WorkerOptions {
  /** Runs executing at once in this worker. Default 10. */
  concurrency?: number
  /** Only run these tasks. Default: every task registered with this errand. */
  tasks?: string[]
  /** How often to look for due runs when nothing wakes the worker. Default `'1s'` (±20% jitter). */
  pollInterval?: Duration
  /** How long a claim holds a run without a heartbeat. A crashed worker's runs return after this. Default `'30s'`. */
  lease?: Duration
  /** How often leases are renewed. Default a third of `lease`. */
  heartbeatInterval?: Duration
  /** How often to take back runs of dead workers and promote due runs, and the longest the scheduler sleeps. Default `'5s'`. */
  maintenanceInterval?: Duration
  /**
   * Runs claimed ahead of free slots and held in this worker until a slot frees, so that a
   * busy worker claims in fewer, larger batches. For many short runs; a held run waits here
   * rather than go to another worker (its lease is renewed meanwhile), and a stopping
   * worker gives held runs back at once. Default 0.
   */
  prefetch?: number
  /** Most runs taken in one claim. Default `concurrency + prefetch`. */
  batchSize?: number
  /** Delete finished runs this long after they finish, or `false` to keep them. Default `'7d'`. */
  retention?: Duration | false
  /** Names this worker in leases and attempts. Default `<pid>-<random>`. */
  workerId?: string
  /**
   * Runs carrying any of these flags are left for other workers. A function is called
   * before every claim, so the list can follow the world (a provider down, a rate limit
   * hit); if it throws, the worker skips that claim and reports a `worker.error`. Default none.
   */
  forbiddenFlags?: ForbiddenFlags
  /**
   * Only take runs in these serial queues (runs without a queue are left to other workers),
   * for a worker dedicated to some queues. Default: any run.
   */
  queues?: string[]

  /**
   * A handler still running this long after its `ctx.signal` aborted (a timeout, a cancel,
   * a lost lease, a shutdown) is reported as a `worker.error` (`HandlerIgnoredAbortError`):
   * its attempt is over, and its run may be running again elsewhere. Longer for handlers
   * whose clean-up on the signal takes a while. Default `'1s'`.
   */
  abortIgnoredAfter?: Duration

  /**
   * Whether this worker also ticks schedules (enqueues the runs of due ticks). Any number of
   * workers may: each tick gets one run. It sleeps until the next tick, at most
   * `maintenanceInterval`. Default `true`.
   */
  scheduler?: boolean
}

export interface ResolvedWorkerOptions {
  concurrency: number
  prefetch: number
  tasks: string[] | null
  pollMs: number
  leaseMs: number
  heartbeatMs: number
  maintenanceMs: number
  batchSize: number
  retentionMs: number | null
  workerId: string | null
  forbiddenFlags: ForbiddenFlags
  queues: string[] | null
  abortIgnoredMs: number
  scheduler: boolean
}

export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  const concurrency = wholeNumber(options.concurrency ?? 10, 'concurrency')
  const prefetch = options.prefetch === undefined || options.prefetch === 0 ? 0 : wholeNumber(options.prefetch, 'prefetch')
  const leaseMs = parseDuration(options.lease ?? '30s')
  if (leaseMs < 1_000) throw new InvalidOptionError('lease must be at least 1s')
  const heartbeatMs = options.heartbeatInterval === undefined ? Math.floor(leaseMs / 3) : parseDuration(options.heartbeatInterval)
  if (heartbeatMs <= 0 || heartbeatMs >= leaseMs) throw new InvalidOptionError('heartbeatInterval must be positive and shorter than lease')
  const pollMs = atLeast10ms(options.pollInterval ?? '1s', 'pollInterval')
  const maintenanceMs = atLeast10ms(options.maintenanceInterval ?? '5s', 'maintenanceInterval')
  const abortIgnoredMs = atLeast10ms(options.abortIgnoredAfter ?? DEFAULT_ABORT_IGNORED_AFTER, 'abortIgnoredAfter')
  return {
    concurrency,
    prefetch,
    tasks: options.tasks ?? null,
    pollMs,
    leaseMs,
    heartbeatMs,
    maintenanceMs,
    batchSize: wholeNumber(options.batchSize ?? concurrency + prefetch, 'batchSize'),
    retentionMs: options.retention === false ? null : parseDuration(options.retention ?? '7d'),
    workerId: options.workerId ?? null,
    forbiddenFlags: typeof options.forbiddenFlags === 'function' ? options.forbiddenFlags : checkForbiddenFlags(options.forbiddenFlags),
    queues: checkQueues(options.queues),
    abortIgnoredMs,
    scheduler: options.scheduler ?? true,
  }
}

/** A duration option of timers that must not spin: at least 10 ms. */
function atLeast10ms(value: Duration, name: string): number {
  const ms = parseDuration(value)
  if (ms < 10) throw new InvalidOptionError(`${name} must be at least 10ms`)
  return ms
}

function checkQueues(queues: unknown): string[] | null {
  if (queues === undefined) return null
  if (!Array.isArray(queues) || queues.length === 0) throw new InvalidOptionError('queues must be a non-empty array of queue names')
  const names = queues.map((queue) => checkName(queue, 'queues[]'))
  if (names.includes(null)) throw new InvalidOptionError('queues must not contain null')
  return [...new Set(names as string[])]
}

/** Checks a list of forbidden flags, as given or as a worker's function returned it. */
export function checkForbiddenFlags(flags: unknown): string[] {
  return checkFlags(flags, 'forbiddenFlags', MAX_FORBIDDEN_FLAGS)
}

function wholeNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidOptionError(`${name} must be a whole number of at least 1, got ${String(value)}`)
  }
  return value
}
