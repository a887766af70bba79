/**
 * A database restart under load (PostgreSQL only): two worker processes and an enqueuing
 * producer on a server of this test's own, which is restarted with `pg_ctl restart -m fast`
 * and then `-m immediate` while runs flow. Workers and the producer ride it out: no
 * process exits, every acknowledged run completes, and work resumes after each restart.
 * Its own server, because restarting the suite's shared one would disturb other test files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Errand } from '../src/runtime/errand.js'
import { postgresStore } from '../src/storage/postgres/index.js'
import { ProcessGroup, tempDir, waitUntil } from './process/cluster.js'
import { LEDGER_TASK, type JobPayload } from './process/protocol.js'
import { findBinDir, restartServer, startServer, stopServer, type LocalServer } from './support/postgres.js'
import type { StoreSpec } from './support/stores.js'

const binDir = findBinDir()
if (!binDir && process.env.CI === 'true') throw new Error('PostgreSQL binaries are required under CI=true')

describe.skipIf(!binDir)('process: PostgreSQL restarts under load', () => {
  let server: LocalServer
  let url: string
  const group = new ProcessGroup()
  const dir = tempDir('errand-pg-restart-')

  beforeAll(async () => {
    ;({ server, url } = await startServer(binDir as string))
  }, 120_000)

  afterAll(async () => {
    await group.killAll()
    if (server) stopServer(server, 'immediate')
    dir.remove()
  })

  it('workers and producers ride out fast and immediate restarts; nothing is lost, no process exits', { timeout: 180_000 }, async () => {
    const spec: StoreSpec = { kind: 'postgres', connectionString: url, schema: 'restart_test' }
    const errand = new Errand({ store: postgresStore({ connectionString: url }, { schema: 'restart_test', onError: () => {} }) })
    errand.task<JobPayload>(LEDGER_TASK, { retry: { attempts: 25, initialDelay: '100ms', maxDelay: '1s' } }, () => {
      throw new Error('the test process runs no handlers')
    })
    await errand.migrate()
    const workers = [0, 1].map((slot) =>
      group.spawnWorker({
        store: spec,
        ledgerDir: dir.path,
        name: `w${slot}`,
        worker: { concurrency: 8, lease: '5s', heartbeatInterval: '1s', pollInterval: '200ms', maintenanceInterval: '500ms' },
      }),
    )
    await Promise.all(workers.map((worker) => worker.waitFor('ready')))

    const acknowledged: string[] = []
    let enqueueErrors = 0
    let producing = true
    const producer = (async () => {
      while (producing) {
        try {
          const runs = await errand.enqueueMany(LEDGER_TASK, Array.from({ length: 10 }, () => ({ ms: 5, outcome: 'ok' as const })))
          acknowledged.push(...runs.map((run) => run.id))
        } catch {
          // The database is restarting: this call was not acknowledged; the next one retries.
          enqueueErrors++
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()

    for (const mode of ['fast', 'immediate'] as const) {
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      const before = acknowledged.length
      restartServer(server, mode)
      // Work resumes: new enqueues are acknowledged after the restart.
      await waitUntil(`enqueues to resume after a ${mode} restart`, () => acknowledged.length > before + 50, { timeoutMs: 30_000 })
    }
    producing = false
    await producer

    const pending = async () => {
      const open = await errand.runs.list({ status: ['scheduled', 'queued', 'running'], limit: 1 })
      return open.runs.length === 0
    }
    await waitUntil('every acknowledged run to finish', pending, { timeoutMs: 90_000 })
    for (const id of acknowledged) {
      const run = await errand.runs.get(id)
      expect(run?.status, id).toBe('completed')
    }
    expect(workers.every((worker) => worker.alive), 'no worker process exited').toBe(true)
    console.log(`postgres restarts: ${acknowledged.length} runs acknowledged and completed, ${enqueueErrors} enqueue calls refused while the server was down`)
    await errand.close()
  })
})
