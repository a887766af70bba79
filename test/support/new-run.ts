import { DEFAULT_RETRY_POLICY } from '../../src/core/retry.js'
import { newRunId } from '../../src/runtime/ids.js'
import type { NewRun } from '../../src/storage/driver.js'

/** A run of task `ping` due now, every option at its default, for tests that call a driver directly. */
export function newRun(overrides: Partial<NewRun> = {}): NewRun {
  const now = new Date()
  return {
    id: newRunId(now),
    task: 'ping',
    status: 'queued',
    payloadJson: '{}',
    maxAttempts: 3,
    priority: 0,
    queue: null,
    concurrencyKey: null,
    concurrencyLimit: null,
    idempotencyKey: null,
    jobKey: null,
    jobKeyMode: null,
    flags: [],
    metadataJson: '{}',
    retryPolicy: { ...DEFAULT_RETRY_POLICY },
    timeoutMs: null,
    runAt: now,
    replayOf: null,
    replayReason: null,
    ...overrides,
  }
}
