import { describe, expect, it } from 'vitest'
import { at, claimAll, finishOne, insert, newRun, T0, type SuiteContext } from './fixtures.js'

const boom = { name: 'BatchItemsFailedError', message: '1 of 3 items failed' }

/** Flags a worker refuses, and what a partly failed batch run keeps. */
export function flagsAndBatchesSuite({ driver }: SuiteContext): void {
  describe('flags', () => {
    it('a claim leaves runs carrying any forbidden flag, and takes the rest', async () => {
      const [plain, slow, gpu, both] = await insert(driver(), [
        newRun(),
        newRun({ flags: ['slow'] }),
        newRun({ flags: ['gpu'] }),
        newRun({ flags: ['gpu', 'slow'] }),
      ])
      const claim = (forbiddenFlags: string[], workerId: string) =>
        driver().runClaim({ workerId, tasks: ['task-a'], limit: 10, leaseMs: 30_000, now: T0, forbiddenFlags })
      expect((await claim(['slow', 'other'], 'w1')).map((r) => r.id)).toEqual([plain, gpu])
      expect((await claim(['gpu'], 'w2')).map((r) => r.id)).toEqual([slow])
      expect((await claim([], 'w3')).map((r) => r.id)).toEqual([both])
    })
  })

  describe('batch runs', () => {
    it('a retry can keep only the failed items as payload and the results so far as output', async () => {
      await insert(driver(), [newRun({ payloadJson: '[{"n":1},{"n":2},{"n":3}]' })])
      const [run] = await claimAll(driver())
      await finishOne(driver(), run!, { outcome: 'retry', error: boom, delayMs: 0, payloadJson: '[{"n":2}]', outputJson: '["r1","r3"]' }, at(1))
      expect(await driver().runGet({ id: run!.id })).toMatchObject({ status: 'scheduled', payload: [{ n: 2 }], output: ['r1', 'r3'] })
      const [again] = await claimAll(driver(), at(2))
      expect(again).toMatchObject({ payload: [{ n: 2 }], output: ['r1', 'r3'], attempt: 2 })
      await finishOne(driver(), again!, { outcome: 'dead_lettered', error: boom, payloadJson: '[{"n":2}]', outputJson: '["r1","r3"]' }, at(3))
      expect(await driver().runGet({ id: run!.id })).toMatchObject({ status: 'dead_lettered', payload: [{ n: 2 }], output: ['r1', 'r3'] })
    })

    it('a retry without a remainder leaves payload and output as they were', async () => {
      await insert(driver(), [newRun({ payloadJson: '[1,2]' })])
      const [run] = await claimAll(driver())
      await finishOne(driver(), run!, { outcome: 'retry', error: boom, delayMs: 0 }, at(1))
      expect(await driver().runGet({ id: run!.id })).toMatchObject({ payload: [1, 2], output: null })
    })
  })
}
