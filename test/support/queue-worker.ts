/**
 * A worker process for process-level tests of serial queues and concurrency keys: opens the
 * store named by ERRAND_TEST_STORE (a StoreSpec as JSON) and runs `guarded` runs until
 * SIGTERM. Each run takes a slot in a shared lock directory by creating a file exclusively
 * (`wx`): `limit` slot files exist per group, so finding none free means more runs of the
 * group are running at once than allowed, across every process. Each start and end goes to
 * the ledger file as one JSON line.
 */
import { appendFileSync, openSync, closeSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Errand } from '../../src/index.js'
import { openStore, type StoreSpec } from './stores.js'

export interface GuardedPayload {
  /** Order within the group, for the order check. */
  n: number
  /** The group (a queue or a concurrency key) and how many of it may run at once. */
  group: string
  limit: number
  /** How long the handler holds its slot, in ms. */
  holdMs: number
}

export interface LedgerLine {
  pid: number
  group: string
  n: number
  event: 'start' | 'end'
  /** Set on a start that found every slot of its group taken. */
  violation?: boolean
}

const spec = JSON.parse(process.env.ERRAND_TEST_STORE ?? '') as StoreSpec
const lockDir = process.env.ERRAND_TEST_LOCKS ?? ''
const ledger = process.env.ERRAND_TEST_LEDGER ?? ''
const record = (line: Omit<LedgerLine, 'pid'>) => appendFileSync(ledger, `${JSON.stringify({ pid: process.pid, ...line })}\n`)

function takeSlot(group: string, limit: number): string | null {
  for (let slot = 0; slot < limit; slot++) {
    const path = join(lockDir, `${group}.${slot}`)
    try {
      closeSync(openSync(path, 'wx'))
      return path
    } catch {
      // taken: try the next slot
    }
  }
  return null
}

const errand = new Errand({ store: openStore(spec) })
errand.task('guarded', {}, async (payload: GuardedPayload) => {
  const slot = takeSlot(payload.group, payload.limit)
  record({ group: payload.group, n: payload.n, event: 'start', ...(slot ? {} : { violation: true }) })
  await sleep(payload.holdMs)
  record({ group: payload.group, n: payload.n, event: 'end' })
  if (slot) unlinkSync(slot)
  return payload.n
})
const worker = errand.worker({ concurrency: 6, pollInterval: '20ms', maintenanceInterval: '200ms' })
await worker.start()
process.stdout.write('ready\n')
process.once('SIGTERM', () => {
  void errand.close({ timeout: '5s' }).then(() => process.exit(0))
})
