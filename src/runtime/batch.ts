import { BatchItemsFailedError, type BatchItemFailure } from '../core/errors.js'
import { toStoredJson } from '../core/json.js'

/**
 * Batch runs: a run whose payload is an array, whose handler returns an array of the same
 * length (results, or promises of them: one per item). Every item is awaited; when some
 * reject, the run keeps only the failed items for its retry, and the results of the others
 * join those kept from earlier attempts in its output.
 */

/** Whether a handler's return value makes this attempt a batch: one entry per payload item. */
export function isBatchResult(payload: unknown, value: unknown): value is unknown[] {
  return Array.isArray(payload) && payload.length > 0 && Array.isArray(value) && value.length === payload.length
}

/** The results kept from a batch run's earlier attempts: its output while it is not completed. */
export function keptResults(output: unknown): unknown[] {
  return Array.isArray(output) ? output : []
}

/** How the items of one batch attempt settled. */
export type BatchOutcome =
  | { kind: 'all'; results: unknown[] }
  | { kind: 'some'; results: unknown[]; failed: unknown[]; error: BatchItemsFailedError }
  | { kind: 'none'; error: BatchItemsFailedError }

/** Awaits every item's result (in item order) and sorts the items into succeeded and failed. */
export async function settleBatch(payload: unknown[], value: unknown[]): Promise<BatchOutcome> {
  const settled = await Promise.allSettled(value)
  const results: unknown[] = []
  const failed: unknown[] = []
  const failures: BatchItemFailure[] = []
  settled.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') results.push(outcome.value === undefined ? null : outcome.value)
    else (failed.push(payload[index]), failures.push({ index, error: outcome.reason }))
  })
  if (failures.length === 0) return { kind: 'all', results }
  const error = new BatchItemsFailedError(payload.length, failures)
  return results.length === 0 ? { kind: 'none', error } : { kind: 'some', results, failed, error }
}

/** The payload a partly failed batch keeps: the failed items, serialised like any payload. */
export function remainderPayloadJson(failed: unknown[]): string {
  return toStoredJson(failed, 'payload')
}
