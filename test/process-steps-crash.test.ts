/**
 * Durable steps under SIGKILL: runs of a five-step task, the worker killed at random
 * moments and restarted, again and again. A step whose result was committed never runs
 * again; only the step in flight at a kill may repeat.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Errand } from '../src/index.js'
import { LONG_TESTS, tempDir, testSeed, waitUntil } from './process/cluster.js'
import { seededRandom } from './process/protocol.js'
import { STEP_COUNT, STEPS_TASK, type StepLedgerEntry } from './process/steps-protocol.js'
import { storeKinds } from './support/stores.js'

// Enough work (runs x 5 steps x 10-40 ms, 8 at a time: seconds) that the first kill always lands mid-run.
const RUNS = LONG_TESTS ? 1_000 : 200
/** Kills in one test; after the last, the worker is left to finish the rest. */
const KILLS = LONG_TESTS ? 100 : 6
const SCRIPT = join(import.meta.dirname, 'process', 'steps-worker.ts')

describe.each(storeKinds())('durable steps under SIGKILL on $name', (kind) => {
  const children: ChildProcess[] = []
  afterEach(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  })

  it('never re-runs a committed step; only the step in flight at a kill repeats', async () => {
    const seed = testSeed()
    const random = seededRandom(seed)
    console.log(`steps crash test on ${kind.name}: seed ${seed}, ${RUNS} runs`)
    const store = await kind.create()
    const ledgerDir = tempDir('errand-steps-')
    const errand = new Errand({ store: store.open() })
    // Same budget as the worker's definition: each kill costs the runs in flight an attempt.
    errand.task(STEPS_TASK, { retry: { attempts: 50 } }, () => null)
    try {
      const handles = await errand.enqueueMany(STEPS_TASK, Array.from({ length: RUNS }, (_, n) => ({ n: n + 1 })))
      const start = () => {
        const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
          env: { ...process.env, STEPS_CONFIG: JSON.stringify({ store: store.spec, ledgerDir: ledgerDir.path }) },
          stdio: ['ignore', 'pipe', 'inherit'],
        })
        children.push(child)
        return new Promise<ChildProcess>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the steps worker did not start within 30s')), 30_000)
          child.stdout?.once('data', () => (clearTimeout(timer), resolve(child)))
          child.once('exit', (code, signal) => (clearTimeout(timer), reject(new Error(`the steps worker exited at start: ${code ?? signal}`))))
        })
      }
      let kills = 0
      let child = await start()
      const done = async () => (await errand.runs.list({ status: 'completed', limit: 1000 })).runs.length === RUNS
      // Kill at random moments (mid-step, between steps, mid-save), then let it finish.
      while (kills < KILLS && !(await done())) {
        await new Promise((resolve) => setTimeout(resolve, 200 + random() * 600))
        if (await done()) break
        child.kill('SIGKILL')
        await new Promise((resolve) => child.once('exit', resolve))
        kills++
        child = await start()
      }
      await waitUntil('every run completed', done, {
        timeoutMs: 90_000,
        describe: async () => {
          const open = (await errand.runs.list({ status: ['scheduled', 'queued', 'running', 'dead_lettered'], limit: 5 })).runs
          return JSON.stringify(open.map((r) => ({ status: r.status, attempt: r.attempt, runAt: r.runAt, lease: r.leaseExpiresAt, error: r.error?.message })))
        },
      })
      child.kill('SIGTERM')

      for (const [i, handle] of handles.entries()) {
        const run = await errand.runs.get(handle.id)
        expect(run?.output).toBe((i + 1) * 15)
        expect((await errand.runs.steps(handle.id)).map((s) => s.name)).toEqual(Array.from({ length: STEP_COUNT }, (_, s) => `step-${s + 1}`))
      }
      const entries = readdirSync(ledgerDir.path).flatMap((file) =>
        readFileSync(join(ledgerDir.path, file), 'utf8')
          .split('\n')
          .filter((line) => line.startsWith('{') && line.endsWith('}'))
          .map((line) => JSON.parse(line) as StepLedgerEntry),
      )
      const byStep = new Map<string, StepLedgerEntry[]>()
      for (const entry of entries) {
        const key = `${entry.runId}#${entry.step}`
        byStep.set(key, [...(byStep.get(key) ?? []), entry])
      }
      let repeats = 0
      for (const [key, list] of byStep) {
        const saved = list.filter((e) => e.event === 'saved').map((e) => e.at)
        const starts = list.filter((e) => e.event === 'body-start')
        expect(starts.length, key).toBeGreaterThanOrEqual(1)
        // The heart of it: no body starts after the step's result was committed and seen.
        if (saved.length) expect(starts.filter((s) => s.at > Math.min(...saved)), key).toEqual([])
        // A repeat is only explained by a kill: the earlier start's process never saw it saved.
        for (const earlier of starts.slice(0, -1)) {
          expect(list.some((e) => e.event === 'saved' && e.pid === earlier.pid), `${key}: ${JSON.stringify(list)}`).toBe(false)
        }
        repeats += starts.length - 1
      }
      console.log(`steps crash test on ${kind.name}: ${kills} kills, ${repeats} step bodies repeated (each in flight at a kill)`)
      expect(kills).toBeGreaterThan(0)
    } finally {
      await errand.close()
      await store.cleanup()
      ledgerDir.remove()
    }
  }, 180_000)
})
