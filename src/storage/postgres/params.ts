import type { AttemptResult, NewRun } from '../driver.js'
import { toJsonbText } from './json-column.js'

/**
 * Column arrays for the batched statements: one array per column, bound as a parameter
 * each and `unnest`ed in SQL, so the statement text is the same for any batch size (and can
 * stay prepared) and no value is ever pasted into SQL.
 */
export function insertArrays(runs: NewRun[]): unknown[] {
  return [
    runs.map((run) => run.id),
    runs.map((run) => run.task),
    runs.map((run) => run.status),
    runs.map((run) => toJsonbText(run.payloadJson)),
    runs.map((run) => run.maxAttempts),
    runs.map((run) => run.priority),
    runs.map((run) => run.queue),
    runs.map((run) => run.concurrencyKey),
    runs.map((run) => run.concurrencyLimit),
    runs.map((run) => run.idempotencyKey),
    runs.map((run) => run.jobKey),
    runs.map((run) => toJsonbText(JSON.stringify(run.flags))),
    runs.map((run) => toJsonbText(run.metadataJson)),
    runs.map((run) => toJsonbText(JSON.stringify(run.retryPolicy))),
    runs.map((run) => run.timeoutMs),
    runs.map((run) => run.runAt.toISOString()),
    runs.map((run) => run.replayOf),
    runs.map((run) => run.replayReason),
    runs.map((run) => run.scheduleKey ?? null),
    runs.map((run) => run.scheduledFor?.toISOString() ?? null),
  ]
}

/**
 * The arrays of the finish statement, for results already freed of duplicate leases. The
 * output array carries a completion's output, or a partly failed batch's results so far;
 * the payload array the failed items such a batch keeps (null: unchanged).
 */
export function finishArrays(results: AttemptResult[], now: Date): unknown[] {
  const remainder = (result: AttemptResult) => (result.outcome === 'retry' || result.outcome === 'dead_lettered' ? result : null)
  return [
    results.map((result) => result.id),
    results.map((result) => result.attempt),
    results.map((result) => result.outcome),
    results.map((result) => result.workerId),
    results.map((result) => {
      const json = result.outcome === 'completed' ? result.outputJson : remainder(result)?.outputJson
      return json === undefined ? null : toJsonbText(json)
    }),
    results.map((result) => ('error' in result ? toJsonbText(JSON.stringify(result.error)) : null)),
    results.map((result) => nextRunAt(result, now)),
    results.map((result) => {
      const json = remainder(result)?.payloadJson
      return json === undefined ? null : toJsonbText(json)
    }),
  ]
}

/** When a finished attempt's run is due again: after a retry's delay, or at a durable sleep's end. */
function nextRunAt(result: AttemptResult, now: Date): string | null {
  if (result.outcome === 'retry') return new Date(now.getTime() + result.delayMs).toISOString()
  if (result.outcome === 'sleep') return result.runAt.toISOString()
  return null
}
