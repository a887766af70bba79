import type { Run } from '../core/run.js'
import type { RunRecord } from '../storage/driver.js'

/** The run as users see it: the stored record without the runtime's own fields. */
export function toPublicRun(record: RunRecord): Run {
  const { retryPolicy: _retryPolicy, ...run } = record
  return run
}
