import { describe, expect, it } from 'vitest'
import type { StoreDriver } from '../driver.js'
import { at, claimAll, finishOne, insert, newRun, type SuiteContext } from './fixtures.js'

/** The optional notification of a run's finish; skipped for stores without it, or with it turned off. */
export function watchSuite({ driver, another }: SuiteContext): void {
  describe('watching a run finish', () => {
    it("calls back once another driver finishes the watched run, by any path, and not after the watch stops", async ({ skip }) => {
      const watching = driver()
      if (!watching.watchRunFinished) return skip()
      const finishing = another()
      const [completed, cancelled, deadLettered, stopped] = (await insert(finishing, [newRun(), newRun(), newRun({ maxAttempts: 1 }), newRun()])) as [string, string, string, string]
      const calls: string[] = []
      const watch = (id: string) => watchOrSkip(watching, id, () => calls.push(id), skip)
      const stops = [await watch(completed), await watch(cancelled), await watch(deadLettered)]
      ;(await watch(stopped))()

      const claimed = new Map((await claimAll(finishing, at(1))).map((run) => [run.id, run]))
      const lease = (id: string) => claimed.get(id) ?? { id, attempt: 1 }
      // Notifications arrive in commit order: the stopped watch's run finishes first.
      await finishOne(finishing, lease(stopped), { outcome: 'completed', outputJson: '1' }, at(2))
      await finishOne(finishing, lease(completed), { outcome: 'completed', outputJson: '1' }, at(2))
      await finishing.runCancel({ id: cancelled, reason: null, now: at(3) })
      await finishOne(finishing, lease(deadLettered), { outcome: 'dead_lettered', error: { name: 'Error', message: 'boom' } }, at(4))
      await eventually(() => calls.length >= 3)
      expect(calls.sort()).toEqual([completed, cancelled, deadLettered].sort())
      for (const stop of stops) stop()
    })

    it('arms on a run that is already final, or unknown, without error', async ({ skip }) => {
      const watching = driver()
      if (!watching.watchRunFinished) return skip()
      const [id] = (await insert(watching, [newRun()])) as [string]
      await watching.runCancel({ id, reason: null, now: at(1) })
      ;(await watchOrSkip(watching, id, () => {}, skip))()
      ;(await watchOrSkip(watching, 'no-such-run', () => {}, skip))()
      expect((await watching.runGet({ id }))?.status).toBe('cancelled')
    })
  })
}

/** Arms a watch; a store that does not notify (turned off) skips the test. */
async function watchOrSkip(driver: StoreDriver, id: string, onFinished: () => void, skip: () => never): Promise<() => void> {
  const stop = await driver.watchRunFinished?.({ id, onFinished })
  return stop ?? skip()
}

async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
