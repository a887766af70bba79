/**
 * RELIABILITY.md scenario 14, SQLite contention and durability, as separate processes on
 * one store: four worker processes claiming, heartbeating and completing while a producer
 * process enqueues as fast as it can (single runs and batches, several calls in flight).
 * No error (SQLITE_BUSY above all) may reach the producer or a worker, no acknowledged
 * enqueue may be lost, every run completes, and `PRAGMA integrity_check` is ok afterwards.
 * The second test SIGKILLs the producer and a worker in the middle of their writes, round
 * after round: every acknowledged enqueue must survive and the file must stay intact.
 *
 * It runs on every store kind; the integrity check is SQLite's own.
 */
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Errand } from '../src/runtime/errand.js'
import { storeKinds, type StoreSpec, type TestStore } from './support/stores.js'
import { type Child, parentErrand, ProcessGroup, readAcks, tearDownProcessTest, tempDir, testSeed, waitUntil, WorkerPool } from './process/cluster.js'
import { anyRunPending, checkLedger, formatReport, listAllRuns, readFinalState, readLedgers, RunWatcher } from './process/ledger.js'
import { seededRandom, type ProducerProcessConfig, type WorkerProcessConfig } from './process/protocol.js'

const WORKERS = 4
const CONCURRENCY = 4
const ENQUEUES = 1_200
const TIMING = { leaseMs: 3_000, heartbeatMs: 500, maintenanceMs: 500 }

function integrityCheck(spec: StoreSpec): string {
  if (spec.kind !== 'sqlite') return 'n/a'
  const db = new Database(spec.path, { readonly: true })
  try {
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>
    return rows.map((row) => row.integrity_check).join('; ')
  } finally {
    db.close()
  }
}

describe.each(storeKinds())('process: contention on one store ($name)', (kind) => {
  let group: ProcessGroup | undefined
  let store: TestStore | undefined
  let errand: Errand | undefined
  let dir: ReturnType<typeof tempDir> | undefined

  afterEach(async () => {
    await tearDownProcessTest({ group, errand, store, dir })
    group = errand = store = dir = undefined
  })

  function workerConfig(spec: StoreSpec, ledgerDir: string) {
    return (slot: number): WorkerProcessConfig => ({
      store: spec,
      ledgerDir,
      name: `w${slot}`,
      // Short polls and maintenance rounds: as many competing writers as the store will see.
      worker: { concurrency: CONCURRENCY, lease: TIMING.leaseMs, heartbeatInterval: TIMING.heartbeatMs, pollInterval: '50ms', maintenanceInterval: TIMING.maintenanceMs },
      grace: '5s',
    })
  }

  it(`4 worker processes and a producer process: no busy error surfaced, no acknowledged enqueue lost (${ENQUEUES} runs)`, { timeout: 180_000 }, async () => {
    const seed = testSeed()
    store = await kind.create()
    const parent = (errand = await parentErrand(store.spec))
    dir = tempDir('errand-contention-')
    const processes = (group = new ProcessGroup())
    const ledgerDir = join(dir.path, 'ledger')
    const ackPath = join(dir.path, 'acks.jsonl')
    mkdirSync(ledgerDir)
    const pool = new WorkerPool(processes, workerConfig(store.spec, ledgerDir), WORKERS)
    await pool.ready()
    const watcher = new RunWatcher(parent, 1_000)
    watcher.start()

    const startedAt = Date.now()
    const producerConfig: ProducerProcessConfig = { store: store.spec, ackPath, count: ENQUEUES, inFlight: 4, maxBatch: 10, ms: [0, 10], seed, options: { maxAttempts: 10 } }
    const producer = processes.spawnProducer('producer', producerConfig)
    const producerExit = await producer.exited
    const producedAt = Date.now()
    await waitUntil('every run to be final', async () => !(await anyRunPending(parent)), {
      timeoutMs: 120_000,
      describe: () => processes.diagnostics(),
    })
    const drainedAt = Date.now()
    const exits = await pool.stop()
    await watcher.stop()
    await watcher.sample()

    const acknowledged = readAcks(ackPath)
    const { entries } = readLedgers(ledgerDir)
    const final = await readFinalState(parent, entries)
    const report = checkLedger({ acknowledged, ledger: entries, final, deaths: pool.deaths, observed: watcher.regressions, stalls: processes.stalls(), timing: TIMING })
    const enqueueErrors = producer.messagesOf('enqueue.error')
    const workerErrors = processes.children.flatMap((child) => child.messagesOf('worker.error'))
    await parent.close()
    errand = undefined
    const integrity = integrityCheck(store.spec)
    console.log(
      formatReport(`contention ${kind.name} seed=${seed}`, report, {
        'enqueue errors surfaced to the producer': enqueueErrors.length,
        'worker errors': workerErrors.length,
        'event-loop stalls >= 500ms (worker: ms, ledger ms, ended at)': processes.children.flatMap((child) =>
          child.messagesOf('stall').map((stall) => `${child.workerId}: ${stall.ms} (${stall.ledgerMs}) @${stall.at}`),
        ),
        'store calls blocking the event loop >= 500 ms (method: slow/calls, max ms)': processes.storeBlocking(),
        'runs in the store': final.runs.size,
        'enqueue s': ((producedAt - startedAt) / 1000).toFixed(1),
        'drain s': ((drainedAt - startedAt) / 1000).toFixed(1),
        integrity,
      }),
    )

    expect(producerExit.code, producer.stderr).toBe(0)
    expect(enqueueErrors).toEqual([])
    expect(producer.messagesOf('done')[0]?.acked).toBe(ENQUEUES)
    expect(acknowledged.length).toBe(ENQUEUES)
    expect(final.runs.size).toBe(ENQUEUES)
    expect(workerErrors).toEqual([])
    expect(pool.crashes).toEqual([])
    expect(exits.every((exit) => exit.code === 0)).toBe(true)
    expect(report.lost).toEqual([])
    expect(report.completed).toBe(ENQUEUES)
    expect(report.duplicates.explained).toEqual([])
    expect(report.duplicates.unexplained).toEqual([])
    expect(report.falseRescues).toEqual([])
    expect(report.regressions).toEqual([])
    if (store.spec.kind === 'sqlite') expect(integrity).toBe('ok')
  })

  it('SIGKILL of the producer and of workers mid-write: acknowledged enqueues survive, the store stays intact', { timeout: 180_000 }, async () => {
    const seed = testSeed()
    const random = seededRandom(seed)
    store = await kind.create()
    const parent = (errand = await parentErrand(store.spec))
    dir = tempDir('errand-killwrites-')
    const processes = (group = new ProcessGroup())
    const ledgerDir = join(dir.path, 'ledger')
    mkdirSync(ledgerDir)
    const pool = new WorkerPool(processes, workerConfig(store.spec, ledgerDir), WORKERS)
    await pool.ready()

    const ROUNDS = 4
    const ackPaths: string[] = []
    const producers: Child[] = []
    const integrityPerRound: string[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const ackPath = join(dir.path, `acks-${round}.jsonl`)
      ackPaths.push(ackPath)
      const producer = processes.spawnProducer(`producer-${round}`, {
        store: store.spec,
        ackPath,
        count: 1_000_000,
        inFlight: 4,
        maxBatch: 20,
        ms: [0, 20],
        seed: seed + round,
        options: { maxAttempts: 20 },
      })
      producers.push(producer)
      // Kill it once it has been acknowledged a random amount of work: mid-stream, mid-write.
      const target = 20 + Math.floor(random() * 200)
      await waitUntil(`producer ${round} to have ${target} acks`, () => !producer.alive || readAcks(ackPath).length >= target, {
        timeoutMs: 60_000,
        intervalMs: 20,
        describe: () => processes.diagnostics(),
      })
      expect(producer.alive, producer.stderr).toBe(true)
      await producer.kill()
      // And a worker, in the middle of its claims, heartbeats and completions.
      await pool.kill(Math.floor(random() * WORKERS))
      integrityPerRound.push(integrityCheck(store.spec))
    }
    await pool.ready()

    await waitUntil('every run to be final', async () => !(await anyRunPending(parent)), {
      timeoutMs: 120_000,
      describe: () => processes.diagnostics(),
    })
    const exits = await pool.stop()
    const acknowledged = ackPaths.flatMap(readAcks)
    const { entries } = readLedgers(ledgerDir)
    const final = await readFinalState(parent, entries)
    const report = checkLedger({ acknowledged, ledger: entries, final, deaths: pool.deaths, stalls: processes.stalls(), timing: TIMING })
    const stored = await listAllRuns(parent)
    const enqueueErrors = producers.flatMap((producer) => producer.messagesOf('enqueue.error'))
    const workerErrors = processes.children.flatMap((child) => child.messagesOf('worker.error'))
    await parent.close()
    errand = undefined
    const integrity = integrityCheck(store.spec)
    console.log(
      formatReport(`SIGKILL mid-write ${kind.name} seed=${seed}`, report, {
        rounds: ROUNDS,
        'runs in the store': stored.length,
        'stored but never acknowledged (killed between commit and ack)': stored.length - acknowledged.length,
        'enqueue errors surfaced': enqueueErrors.length,
        'worker errors': workerErrors.length,
        'integrity after each round': integrityPerRound,
        integrity,
      }),
    )

    expect(enqueueErrors).toEqual([])
    expect(workerErrors).toEqual([])
    expect(pool.crashes).toEqual([])
    expect(exits.every((exit) => exit.code === 0)).toBe(true)
    expect(report.lost).toEqual([])
    expect(stored.length).toBeGreaterThanOrEqual(acknowledged.length)
    // Everything stored ran to completion, acknowledged or not.
    expect(stored.filter((run) => run.status !== 'completed')).toEqual([])
    expect(report.duplicates.unexplained).toEqual([])
    expect(report.falseRescues).toEqual([])
    expect(report.regressions).toEqual([])
    if (store.spec.kind === 'sqlite') {
      expect(integrityPerRound.every((result) => result === 'ok')).toBe(true)
      expect(integrity).toBe('ok')
    }
  })
})
