import { toStoredJson } from '../core/json.js'
import type { LogLevel } from '../core/run.js'
import type { RunRecord } from '../storage/driver.js'
import type { ErrandInternals } from './internals.js'
import type { LogBuffer } from './log-buffer.js'
import { toPublicRun } from './public-run.js'
import { AttemptSteps } from './steps.js'
import type { RunLogger, TaskContext } from './task.js'

/** What an attempt's context needs from its worker. */
export interface AttemptServices {
  internals: ErrandInternals
  logs: LogBuffer
}

/** Builds the `ctx` a handler gets for one attempt, and the attempt's step tracker. */
export function createTaskContext(run: RunRecord, signal: AbortSignal, services: AttemptServices): { ctx: TaskContext; steps: AttemptSteps } {
  const steps = new AttemptSteps(services.internals, run, signal)
  const ctx: TaskContext = {
    runId: run.id,
    task: run.task,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    signal,
    run: toPublicRun(run),
    step: steps.api(),
    log: createLogger(run, services),
    progress: (value) => setProgress(run, value, services.internals),
  }
  return { ctx, steps }
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
