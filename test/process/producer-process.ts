/**
 * A scripted producer, run as its own process: enqueues `count` runs of `ledger-task`, one
 * call at a time per slot (`inFlight` slots), each call one run (`enqueue`) or a small batch
 * (`enqueueMany`). After each call resolves, the ids it returned are appended to the ack
 * file and fsynced: an id in that file was acknowledged to the caller. Every error an
 * enqueue call surfaces is printed (`enqueue.error`) and counted; the process exits 0 only
 * when there were none.
 *
 *   ERRAND_PROCESS_CONFIG='{...}' node --import tsx test/process/producer-process.ts
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import { createErrand } from '../../src/index.js'
import { openStore } from '../support/stores.js'
import { between, LEDGER_TASK, seededRandom, type ChildMessage, type JobPayload, type ProducerProcessConfig } from './protocol.js'

const config = JSON.parse(process.env.ERRAND_PROCESS_CONFIG ?? process.argv[2] ?? '') as ProducerProcessConfig
const pid = process.pid
const random = seededRandom(config.seed)

function say(message: ChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

async function main(): Promise<void> {
  const errand = createErrand({ store: openStore(config.store) })
  errand.task<JobPayload>(LEDGER_TASK, {}, () => {
    throw new Error('the producer runs no handlers')
  })
  const acks = openSync(config.ackPath, 'a')
  let planned = 0
  let acked = 0
  let errors = 0
  const payload = (): JobPayload => ({ ms: between(random, config.ms[0], config.ms[1]), outcome: 'ok' })

  const slot = async () => {
    while (planned < config.count) {
      const size = Math.min(config.count - planned, between(random, 1, config.maxBatch))
      planned += size
      try {
        const ids =
          size === 1
            ? [(await errand.enqueue(LEDGER_TASK, payload(), config.options)).id]
            : (await errand.enqueueMany(LEDGER_TASK, Array.from({ length: size }, () => ({ payload: payload(), options: config.options })))).map((run) => run.id)
        writeSync(acks, `${JSON.stringify({ ids, at: Date.now() })}\n`)
        fsyncSync(acks)
        acked += ids.length
      } catch (error) {
        errors++
        const err = error as { name?: string; code?: unknown; message?: string }
        say({ type: 'enqueue.error', pid, name: String(err?.name), code: typeof err?.code === 'string' ? err.code : null, message: String(err?.message ?? error) })
      }
    }
  }
  await Promise.all(Array.from({ length: config.inFlight }, slot))
  closeSync(acks)
  await errand.close()
  say({ type: 'done', pid, acked, errors })
  process.exit(errors === 0 ? 0 : 1)
}

main().catch((error: unknown) => {
  process.stderr.write(`producer process failed: ${String((error as Error)?.stack ?? error)}\n`)
  process.exit(1)
})
