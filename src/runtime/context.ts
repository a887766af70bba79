import { toStoredJson } from '../core/json.js'
import type { LogLevel, Run } from '../core/run.js'
import type { RunRecord } from '../storage/driver.js'
import type { AttemptAbort } from './attempt-abort.js'
import type { ErrandInternals } from './internals.js'
import type { LogBuffer } from './log-buffer.js'
import { toPublicRun } from './public-run.js'
import { AttemptSteps, type StepApi } from './steps.js'
import type { RunLogger, TaskContext } from './task.js'

/** What an attempt's context needs from its worker. */
export interface AttemptServices {
  internals: ErrandInternals
  logs: LogBuffer
  /** Reports an error of the worker's own (a `worker.error`). */
  reportError: (error: unknown) => void
  /** How long a handler may run on after its signal aborted before it is reported. */
  abortIgnoredMs: number
}

/**
 * Builds the `ctx` a handler gets for one attempt, and a reader of the attempt's step
 * tracker (null if the handler never used `ctx.step`). The signal, the public run, the
 * steps and the logger are made when the handler first reads them: most handlers read few
 * of them, and a busy worker starts thousands of attempts a second.
 */
export function createTaskContext(run: RunRecord, abort: AttemptAbort, services: AttemptServices): { ctx: TaskContext; steps: () => AttemptSteps | null } {
  let steps: AttemptSteps | null = null
  let stepApi: StepApi | null = null
  let publicRun: Run | null = null
  let logger: RunLogger | null = null
  const ctx: TaskContext = {
    runId: run.id,
    task: run.task,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    get signal() {
      return abort.signal
    },
    get run() {
      return (publicRun ??= toPublicRun(run))
    },
    get step() {
      if (!stepApi) {
        steps = new AttemptSteps(services.internals, run, abort)
        stepApi = steps.api()
      }
      return stepApi
    },
    get log() {
      return (logger ??= createLogger(run, services))
    },
    progress: (value) => setProgress(run, value, services.internals),
  }
  return { ctx, steps: () => steps }
}

async function setProgress(run: RunRecord, value: unknown, internals: ErrandInternals): Promise<void> {
  const progressJson = toStoredJson(value, 'progress')
  const applied = await internals.driver.runProgressSet({ id: run.id, attempt: run.attempt, progressJson, now: internals.clock.now() })
  if (applied) internals.events.emit('run.progress', { runId: run.id, progress: JSON.parse(progressJson) })
}

function createLogger(run: RunRecord, services: AttemptServices): RunLogger {
  const write = (level: LogLevel) => (message: string, data?: unknown) => {
    services.logs.add({
      runId: run.id,
      attempt: run.attempt,
      at: services.internals.clock.now(),
      level,
      message: String(message),
      dataJson: logData(data),
    })
  }
  return Object.assign(write('info'), { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') })
}

/** Log data is best effort: what JSON cannot hold is kept as text rather than failing the handler. */
function logData(data: unknown): string {
  if (data === undefined) return 'null'
  try {
    return toStoredJson(data, 'log data')
  } catch {
    return JSON.stringify({ unserializable: String(data) })
  }
}
