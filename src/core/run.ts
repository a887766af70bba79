import type { RunStatus } from './run-state.js'

/** An error as stored with a run or an attempt. */
export interface SerializedError {
  name: string
  message: string
  code?: string
  stack?: string
}

/** A run as users see it. */
export interface Run<TPayload = unknown, TOutput = unknown> {
  id: string
  task: string
  status: RunStatus
  payload: TPayload
  /**
   * The handler's return value, once completed. A batch run waiting for a retry after some
   * of its items failed holds the results of the items that succeeded so far.
   */
  output: TOutput | null
  /** The last attempt's error, if it failed. */
  error: SerializedError | null
  /** Attempts started so far (1 during the first). */
  attempt: number
  maxAttempts: number
  priority: number
  queue: string | null
  concurrencyKey: string | null
  /** How many runs of `concurrencyKey` may run at once; null without a key. */
  concurrencyLimit: number | null
  idempotencyKey: string | null
  jobKey: string | null
  flags: string[]
  metadata: Record<string, unknown>
  progress: unknown
  /** When it is (or was) due. */
  runAt: Date
  createdAt: Date
  /** When its first attempt started. */
  startedAt: Date | null
  /** When it reached a final status. */
  completedAt: Date | null
  updatedAt: Date
  replayOf: string | null
  replayReason: string | null
  cancelReason: string | null
  /** Timeout of each attempt in ms, or null for none. */
  timeoutMs: number | null
  /** The worker holding it, while running. */
  lockedBy: string | null
  leaseExpiresAt: Date | null
  /** The schedule that made it (a tick or a manual trigger); null for runs enqueued directly. */
  scheduleKey: string | null
  /** The tick it was made for (for a trigger, the time of the trigger); null for runs enqueued directly. */
  scheduledFor: Date | null
}

/** How an attempt ended. `running` is the attempt in progress. */
export type AttemptOutcome = 'running' | 'completed' | 'failed' | 'cancelled' | 'released' | 'lease_expired' | 'slept'

/** One attempt of a run. */
export interface Attempt {
  runId: string
  attempt: number
  workerId: string | null
  startedAt: Date
  finishedAt: Date | null
  outcome: AttemptOutcome
  error: SerializedError | null
}

/** Turns anything thrown into a {@link SerializedError}; non-Error throws are described. */
export function serializeError(thrown: unknown): SerializedError {
  if (thrown instanceof Error) {
    const out: SerializedError = { name: thrown.name, message: thrown.message }
    const code = (thrown as { code?: unknown }).code
    if (typeof code === 'string') out.code = code
    if (thrown.stack) out.stack = thrown.stack
    return out
  }
  let message: string
  try {
    message = typeof thrown === 'string' ? thrown : `Non-error thrown: ${JSON.stringify(thrown) ?? String(thrown)}`
  } catch {
    message = `Non-error thrown: ${String(thrown)}`
  }
  return { name: 'NonErrorThrown', message }
}

/** A durable step of a run: its stored result, or a durable sleep and when it ends. */
export interface Step {
  runId: string
  name: string
  kind: 'run' | 'sleep'
  /** The attempt that completed it. */
  attempt: number
  /** `step.run`'s result; null for a sleep. */
  output: unknown
  /** For a sleep: when it ends. */
  wakeAt: Date | null
  completedAt: Date
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** A message a handler logged with `ctx.log`, kept with the run. */
export interface RunLog {
  runId: string
  attempt: number
  at: Date
  level: LogLevel
  message: string
  data: unknown
}
