/**
 * A worker process for the schedule process test:
 *
 *   ERRAND_SCHEDULE_CONFIG='{"store":...,"ledgerDir":...}' node --import tsx test/process/schedule-worker.ts
 *
 * It declares an every-second schedule in code (so every process syncs the same declaration
 * at start-up), runs a worker that also ticks schedules, and appends each handler run to
 * its own ledger file. It prints `ready` once started; on SIGTERM it stops and exits 0.
 */
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { createErrand, defineTask } from '../../src/index.js'
import { openStore, type StoreSpec } from '../support/stores.js'

export interface ScheduleWorkerConfig {
  store: StoreSpec
  ledgerDir: string
}

/** One line of a ledger: a handler run. */
export interface ScheduleLedgerEntry {
  pid: number
  runId: string
  scheduledFor: string
  attempt: number
  startedAt: number
}

/** Import only the types of this file: importing its values would run it. */
const SCHEDULE_KEY = 'every-second'

const config = JSON.parse(process.env.ERRAND_SCHEDULE_CONFIG ?? '') as ScheduleWorkerConfig
const ledger = join(config.ledgerDir, `ledger-${process.pid}.jsonl`)

const tick = defineTask({
  name: 'tick',
  run: async (_payload, ctx) => {
    const entry: ScheduleLedgerEntry = {
      pid: process.pid,
      runId: ctx.runId,
      scheduledFor: ctx.run.scheduledFor?.toISOString() ?? 'none',
      attempt: ctx.attempt,
      startedAt: Date.now(),
    }
    appendFileSync(ledger, `${JSON.stringify(entry)}\n`)
    return { pid: process.pid }
  },
})

const errand = createErrand({
  store: openStore(config.store),
  schedules: [{ key: SCHEDULE_KEY, task: 'tick', cron: '* * * * * *' }],
})
errand.register({ tick })
errand.on('worker.error', ({ error }) => process.stderr.write(`worker.error ${error.message}\n`))
const worker = errand.worker({ concurrency: 4, pollInterval: '100ms', maintenanceInterval: '500ms' })

process.on('SIGTERM', () => {
  void errand.close({ timeout: '2s' }).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`close failed: ${String(error)}\n`)
      process.exit(1)
    },
  )
})

await worker.start()
process.stdout.write('ready\n')
