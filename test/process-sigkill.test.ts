/**
 * RELIABILITY.md scenario 1, SIGKILL workers: four worker processes run a stream of short
 * runs while the test SIGKILLs a random worker (one with runs inside a handler) several
 * times and starts a fresh one in its place. The ledger checker then proves: no
 * acknowledged run lost, no unexplained duplicate, explained duplicates bounded by what
 * the killed workers held, no state regression, every run completed. A lease lost by a
 * live worker whose event loop was stalled about as long as the lease (a loaded machine) is
 * reported apart as `stalled`; any other lease lost by a live worker fails the test.
 *
 * Short by default (2,000 runs of 20-100 ms, 5 kills); ERRAND_LONG_TESTS=1 runs 10,000 runs
 * of 50-500 ms with a kill about every 5 s. ERRAND_SEED replays a payload and victim choice.
 */
import { existsSync, statSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { Errand } from '../src/runtime/errand.js'
import { storeKinds, type TestStore } from './support/stores.js'
import { LONG_TESTS, parentErrand, ProcessGroup, tearDownProcessTest, tempDir, testSeed, waitUntil, WorkerPool } from './process/cluster.js'
import { anyRunPending, checkLedger, formatReport, LedgerTail, readFinalState, readLedgers, RunWatcher } from './process/ledger.js'
import { between, LEDGER_TASK, seededRandom, type JobPayload, type WorkerProcessConfig } from './process/protocol.js'

const RUNS = LONG_TESTS ? 10_000 : 2_000
const RUN_MS: [number, number] = LONG_TESTS ? [50, 500] : [20, 100]
const WORKERS = 4
const CONCURRENCY = LONG_TESTS ? 10 : 4
const KILLS = LONG_TESTS ? 14 : 5
/** Ms between kills in the long version (the short one kills at progress marks). */
const KILL_EVERY_MS = 5_000
/** The test enqueues ahead of the workers by at most this many runs, so enqueues overlap the kills. */
const BACKLOG = 300
const MAX_ATTEMPTS = 25
const TIMING = { leaseMs: 2_000, heartbeatMs: 500, maintenanceMs: 500 }

describe.each(storeKinds())('process: SIGKILL workers mid-run ($name)', (kind) => {
  let group: ProcessGroup | undefined
  let store: TestStore | undefined
  let errand: Errand | undefined
  let dir: ReturnType<typeof tempDir> | undefined

  afterEach(async () => {
    await tearDownProcessTest({ group, errand, store, dir })
    group = errand = store = dir = undefined
  })

  it(
    `loses no acknowledged run and duplicates only what killed workers held (${RUNS} runs, ${KILLS} kills)`,
    { timeout: LONG_TESTS ? 1_200_000 : 180_000 },
    async () => {
      const seed = testSeed()
      const payloadRandom = seededRandom(seed)
      const killRandom = seededRandom(seed ^ 0x5bd1e995)
      store = await kind.create()
      errand = await parentErrand(store.spec)
      dir = tempDir('errand-sigkill-')
      const processes = (group = new ProcessGroup())
      const spec = store.spec
      const ledgerDir = dir.path
      const config = (slot: number): WorkerProcessConfig => ({
        store: spec,
        ledgerDir,
        name: `w${slot}`,
        worker: { concurrency: CONCURRENCY, lease: TIMING.leaseMs, heartbeatInterval: TIMING.heartbeatMs, pollInterval: '100ms', maintenanceInterval: TIMING.maintenanceMs },
        grace: '5s',
      })
      const pool = new WorkerPool(processes, config, WORKERS)
      await pool.ready()

      const tail = new LedgerTail(ledgerDir)
      const watcher = new RunWatcher(errand, LONG_TESTS ? 3_000 : 1_000)
      watcher.start()
      const acknowledged: string[] = []
      const schedule: Array<{ kill: number; slot: number; pid: number; inHandler: number; startedSoFar: number }> = []
      const startedAt = Date.now()

      const parent = errand
      let producerError: unknown = null
      const progress = async () => {
        tail.poll()
        const pending = await parent.runs.list({ status: ['queued', 'running', 'scheduled'], limit: 1000 }).catch((error: unknown) => ({ runs: [], error }))
        return [
          `acknowledged=${acknowledged.length} started runs=${tail.startedRuns.size} starts=${tail.starts} finishes=${tail.finishes}`,
          `producer error=${String(producerError)} pending runs (first 1000)=${pending.runs.length}`,
          `workers: ${pool.slots.map((child) => `${child.workerId ?? child.pid} alive=${child.alive} inHandler=${child.workerId ? tail.inFlight(child.workerId) : '?'}`).join(', ')}`,
          processes.diagnostics(),
        ].join('\n')
      }
      const producing = (async () => {
        while (acknowledged.length < RUNS) {
          await waitUntil(
            'the backlog to shrink',
            () => {
              tail.poll()
              return acknowledged.length - tail.startedRuns.size < BACKLOG
            },
            { timeoutMs: 120_000, intervalMs: 25, describe: () => processes.diagnostics() },
          )
          const size = Math.min(100, RUNS - acknowledged.length)
          const items = Array.from({ length: size }, () => ({
            payload: { ms: between(payloadRandom, RUN_MS[0], RUN_MS[1]), outcome: 'ok' } satisfies JobPayload,
            options: { maxAttempts: MAX_ATTEMPTS },
          }))
          const handles = await parent.enqueueMany(LEDGER_TASK, items)
          acknowledged.push(...handles.map((handle) => handle.id))
        }
      })().catch((error: unknown) => {
        producerError = error
        throw error
      })

      let lastKill = Date.now()
      for (let kill = 0; kill < KILLS; kill++) {
        const mark = Math.floor(RUNS * (0.1 + (0.6 * kill) / Math.max(1, KILLS - 1)))
        await waitUntil(
          LONG_TESTS ? `${KILL_EVERY_MS}ms since the last kill` : `${mark} runs started`,
          () => {
            tail.poll()
            if (producerError) throw producerError
            return LONG_TESTS ? Date.now() - lastKill >= KILL_EVERY_MS : tail.startedRuns.size >= mark
          },
          { timeoutMs: 300_000, intervalMs: 25, describe: progress },
        )
        const victim = await waitUntil(
          'a worker with runs inside a handler',
          () => {
            if (producerError) throw producerError
            tail.poll()
            const candidates = pool.slots.filter((child) => child.alive && child.workerId && tail.inFlight(child.workerId) > 0)
            return candidates.length ? candidates[Math.floor(killRandom() * candidates.length)] : null
          },
          { timeoutMs: 60_000, intervalMs: 10, describe: progress },
        )
        const inHandler = tail.inFlight(victim.workerId as string)
        const slot = pool.slots.indexOf(victim)
        // The replacement boots in the background: waiting for it here would let the work
        // run ahead of the schedule on a loaded machine.
        const { death } = await pool.kill(slot)
        lastKill = death.at
        schedule.push({ kill: kill + 1, slot, pid: victim.pid, inHandler, startedSoFar: tail.startedRuns.size })
      }
      await producing

      await waitUntil('every run to be final', async () => !(await anyRunPending(parent)), {
        timeoutMs: LONG_TESTS ? 600_000 : 120_000,
        intervalMs: 100,
        describe: progress,
      })
      const drainedAt = Date.now()
      const walBytes = spec.kind === 'sqlite' && existsSync(`${spec.path}-wal`) ? statSync(`${spec.path}-wal`).size : null

      // A clean stop of the survivors: nothing is in flight, so each exits 0 at once.
      const exits = await pool.stop()
      const deaths = pool.deaths
      await watcher.stop()
      await watcher.sample()

      const unexpectedExits = pool.crashes
      const { entries, torn } = readLedgers(ledgerDir)
      const final = await readFinalState(parent, entries)
      const report = checkLedger({ acknowledged, ledger: entries, final, deaths, observed: watcher.regressions, stalls: processes.stalls(), timing: TIMING })
      const workerErrors = processes.children.flatMap((child) => child.messagesOf('worker.error'))
      const stalls = processes.children.flatMap((child) => child.messagesOf('stall').map((stall) => ({ worker: child.workerId, ...stall })))
      console.log(
        formatReport(`SIGKILL ${kind.name} seed=${seed}`, report, {
          runs: RUNS,
          workers: WORKERS,
          concurrency: CONCURRENCY,
          kills: schedule,
          'seconds to drain': ((drainedAt - startedAt) / 1000).toFixed(1),
          'worker errors': workerErrors.length,
          'event-loop stalls >= 500ms (worker: ms, ledger ms, ended at)': stalls.map((stall) => `${stall.worker}: ${stall.ms} (${stall.ledgerMs}) @${stall.at}`),
          'longest stall / slowest ledger append, ms': [
            Math.max(0, ...processes.children.flatMap((child) => child.messagesOf('stats').map((stats) => stats.maxStallMs))),
            Math.max(0, ...processes.children.flatMap((child) => child.messagesOf('stats').map((stats) => stats.maxLedgerMs))),
          ],
          'store calls blocking the event loop >= 500 ms (survivors; method: slow/calls, max ms)': processes.storeBlocking(),
          'torn ledger lines': torn.length,
          'sqlite wal bytes after drain': walBytes,
          'watcher samples': watcher.samples,
        }),
      )

      expect(unexpectedExits.map((child) => ({ name: child.name, exit: child.exit, stderr: child.stderr.slice(-2_000) }))).toEqual([])
      expect(exits.every((exit) => exit.code === 0)).toBe(true)
      // A torn line can only be the last one of a killed process's file.
      expect(torn.filter((line) => !line.last)).toEqual([])
      expect(report.acknowledged).toBe(RUNS)
      expect(report.lost).toEqual([])
      expect(report.duplicates.unexplained).toEqual([])
      expect(report.regressions).toEqual([])
      expect(report.falseRescues).toEqual([])
      expect(report.completed).toBe(RUNS)
      // In flight on a killed worker: claimed and not yet finished in the store. That is the
      // runs inside a handler (at most `concurrency` each) plus runs whose handler returned
      // but whose completion was still waiting for its batched write.
      expect(report.duplicates.explained.length).toBeLessThanOrEqual(report.heldByDead)
      expect(deaths.every((death) => death.how === 'SIGKILL')).toBe(true)
      expect(report.inHandlerAtDeath).toBeLessThanOrEqual(deaths.length * CONCURRENCY)
      expect(workerErrors.filter((error) => /BUSY|LOCKED/i.test(`${error.code} ${error.message}`))).toEqual([])
    },
  )
})
