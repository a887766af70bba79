import { AttemptTimeoutError, HandlerIgnoredAbortError, type BatchItemsFailedError } from '../core/errors.js'
import { toStoredJson } from '../core/json.js'
import type { RunRecord } from '../storage/driver.js'
import { isBatchResult, keptResults, remainderPayloadJson, settleBatch } from './batch.js'
import type { AttemptAbort } from './attempt-abort.js'
import { createTaskContext, type AttemptServices } from './context.js'
import { validateWithSchema } from './schema.js'
import type { AnyTaskDefinition, TaskContext } from './task.js'

/** How one attempt ended, before the runtime decides what it means for the run. */
export type Settlement =
  | { kind: 'completed'; outputJson: string; output: unknown }
  | { kind: 'failed'; error: unknown }
  /** Some items of a batch failed: retry those; the others' results join the output. */
  | { kind: 'partial'; error: BatchItemsFailedError; payloadJson: string; payload: unknown[]; outputJson: string; output: unknown[] }
  /** The signal aborted for a reason other than the timeout (cancel, lost lease, shutdown). */
  | { kind: 'aborted'; reason: unknown }
  /** The handler asked for a durable sleep. */
  | { kind: 'sleep'; wakeAt: Date }

/**
 * Runs one attempt of `run`. Resolves as soon as the handler settles or the signal aborts,
 * whichever comes first: a handler that ignores its signal cannot hold the slot. A
 * handler's late rejection is caught, never left unhandled.
 */
export async function executeAttempt(
  run: RunRecord,
  task: AnyTaskDefinition,
  abort: AttemptAbort,
  services: AttemptServices,
): Promise<Settlement> {
  const timer = run.timeoutMs === null ? null : setTimeout(() => abort.abort(new AttemptTimeoutError(run.timeoutMs as number)), run.timeoutMs)
  try {
    const { ctx, steps } = createTaskContext(run, abort, services)
    const handler = invoke(task, run.payload, ctx)
    const outcome = await Promise.race([handler, abort.aborted])
    if ('aborted' in outcome) reportIfStillRunning(handler, run, outcome.reason, services)
    // A sleep wins over whatever the handler did after asking for it (even swallowing it).
    const sleepUntil = steps()?.sleepUntil
    if (sleepUntil && !abort.isAborted) return { kind: 'sleep', wakeAt: sleepUntil }
    if ('aborted' in outcome) return aborted(outcome.reason)
    if (!outcome.ok) return { kind: 'failed', error: outcome.error }
    if (!isBatchResult(run.payload, outcome.value)) return await finishOutput(task, outcome.value)
    const items = settleBatch(run.payload as unknown[], outcome.value)
    const batch = await Promise.race([items, abort.aborted])
    if ('aborted' in batch) {
      reportIfStillRunning(items, run, batch.reason, services)
      return aborted(batch.reason)
    }
    const kept = keptResults(run.output)
    if (batch.kind === 'none') return { kind: 'failed', error: batch.error }
    const settlement = await finishOutput(task, [...kept, ...batch.results])
    if (batch.kind === 'all' || settlement.kind !== 'completed') return settlement
    const failed = batch.failed
    return { kind: 'partial', error: batch.error, payload: failed, payloadJson: remainderPayloadJson(failed), output: settlement.output as unknown[], outputJson: settlement.outputJson }
  } finally {
    if (timer) clearTimeout(timer)
  }
}

/**
 * An aborted attempt is over at once (its slot is free, its run given back or failed), but
 * JavaScript cannot stop its handler: one that ignores its signal runs on (or the items of
 * the batch it returned do), while its run may run again elsewhere. Such a handler is
 * reported once, if it is still running the worker's `abortIgnoredAfter` later, which may
 * be after the worker's stop() resolved. The timer does not keep the process alive.
 */
function reportIfStillRunning(work: Promise<unknown>, run: RunRecord, reason: unknown, services: AttemptServices): void {
  const afterMs = services.abortIgnoredMs
  const timer = setTimeout(() => services.reportError(new HandlerIgnoredAbortError(run, afterMs, reason)), afterMs)
  timer.unref()
  const stop = () => clearTimeout(timer)
  work.then(stop, stop)
}

function aborted(reason: unknown): Settlement {
  return reason instanceof AttemptTimeoutError ? { kind: 'failed', error: reason } : { kind: 'aborted', reason }
}

type HandlerOutcome = { ok: true; value: unknown } | { ok: false; error: unknown }

function invoke(task: AnyTaskDefinition, payload: unknown, ctx: TaskContext): Promise<HandlerOutcome> {
  let result: unknown
  try {
    result = task.run(payload, ctx)
  } catch (error) {
    return Promise.resolve({ ok: false, error })
  }
  return Promise.resolve(result).then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  )
}

/** Validates the output against the task's schema and serialises it; either failing fails the attempt. */
async function finishOutput(task: AnyTaskDefinition, value: unknown): Promise<Settlement> {
  try {
    const output = task.options.output
      ? await validateWithSchema(task.options.output, value, `Invalid output of task "${task.name}"`)
      : value
    return { kind: 'completed', outputJson: toStoredJson(output, 'output'), output: output === undefined ? null : output }
  } catch (error) {
    return { kind: 'failed', error }
  }
}
