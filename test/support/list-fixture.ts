import { expect } from 'vitest'
import type { Errand, RunChange } from '../../src/index.js'
import type { TestStore } from './stores.js'

/**
 * Runs in the states the runs lists filter on, for the plan tests: `plain` queued runs and
 * `inQueues` more in five serial queues, of which the first `claimed` are claimed and all
 * but 100 of those completed. The 100 stay running.
 */
export async function seedRunsForLists(errand: Errand, store: TestStore, counts: { plain: number; inQueues: number; claimed: number }): Promise<void> {
  errand.task('noop', {}, async () => {})
  await errand.enqueueMany('noop', Array.from({ length: counts.plain }, (_, i) => i))
  await errand.enqueueMany('noop', Array.from({ length: counts.inQueues }, (_, i) => ({ payload: i, options: { queue: `q${i % 5}` } })))
  const now = new Date()
  const driver = store.open()
  try {
    const claimed = await driver.runClaim({ workerId: 'w', tasks: ['noop'], limit: counts.claimed, leaseMs: 60_000, now })
    const finished = claimed.slice(100).map((run) => ({ id: run.id, attempt: run.attempt, workerId: 'w', outcome: 'completed' as const, outputJson: 'null' }))
    await driver.runFinishMany({ results: finished, now })
  } finally {
    await driver.close()
  }
}

/** A change feed read from the start: every run once, the 100 running among them, in (updatedAt, id) order. */
export function expectWholeFeedInOrder(feed: RunChange[], total: number): void {
  expect(feed).toHaveLength(total)
  expect(feed.filter((change) => change.status === 'running')).toHaveLength(100)
  const order = feed.map((change) => [change.updatedAt.getTime(), change.id] as const)
  expect(order).toEqual([...order].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)))
}
