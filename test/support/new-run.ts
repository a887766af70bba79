import { newRunId } from '../../src/runtime/ids.js'
import { newRun as conformanceRun } from '../../src/storage/conformance/fixtures.js'
import type { NewRun } from '../../src/storage/driver.js'

/**
 * A run of task `ping` due now, every option at its default, for tests that call a driver
 * directly: the conformance suite's run, moved from its fixed clock to the real one.
 */
export function newRun(overrides: Partial<NewRun> = {}): NewRun {
  const now = new Date()
  return conformanceRun({ id: newRunId(now), task: 'ping', payloadJson: '{}', timeoutMs: null, runAt: now, ...overrides })
}
