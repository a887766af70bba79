/**
 * A worker process for the durable-steps crash test: runs `five-steps`, whose handler runs
 * five `ctx.step.run` steps. Each step body logs its start and end to this process's ledger,
 * and the handler logs `saved` once `step.run` has returned (the result is committed by then).
 *
 *   STEPS_CONFIG='{"store":...,"ledgerDir":...}' node --import tsx test/process/steps-worker.ts
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createErrand } from '../../src/index.js'
import { openStore, type StoreSpec } from '../support/stores.js'
import { LedgerWriter } from './ledger.js'
import { STEP_COUNT, STEPS_TASK, type StepLedgerEntry } from './steps-protocol.js'


interface Config {
  store: StoreSpec
  ledgerDir: string
}

const config = JSON.parse(process.env.STEPS_CONFIG ?? '') as Config
const ledger = new LedgerWriter(join(config.ledgerDir, `steps-${process.pid}.jsonl`))
const write = (entry: Omit<StepLedgerEntry, 'pid' | 'at'>) => ledger.append({ ...entry, pid: process.pid, at: Date.now() } as never)

const errand = createErrand({ store: openStore(config.store) })
errand.task(STEPS_TASK, { retry: { attempts: 50, initialDelay: '10ms', maxDelay: '50ms' } }, async (payload: { n: number }, ctx) => {
  let total = 0
  for (let step = 1; step <= STEP_COUNT; step++) {
    total += await ctx.step.run(`step-${step}`, async () => {
      write({ runId: ctx.runId, step, attempt: ctx.attempt, event: 'body-start' })
      await sleep(10 + Math.floor(Math.random() * 30))
      write({ runId: ctx.runId, step, attempt: ctx.attempt, event: 'body-end' })
      return payload.n * step
    })
    write({ runId: ctx.runId, step, attempt: ctx.attempt, event: 'saved' })
  }
  return total
})
// A lease of 3 s: a run killed mid-step comes back soon, but a stall of this process under a
// busy machine (the whole suite on 2 cores) does not expire its own leases, which would make
// it rescue and repeat a step with no kill at all.
const worker = errand.worker({ concurrency: 8, lease: '3s', heartbeatInterval: '250ms', maintenanceInterval: '200ms', pollInterval: '100ms' })
await worker.start()
process.stdout.write('ready\n')
process.on('SIGTERM', () => void errand.close({ timeout: '1s' }).then(() => process.exit(0)))
