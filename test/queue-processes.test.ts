import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useErrand, waitUntil } from './support/errand.js'
import type { GuardedPayload, LedgerLine } from './support/queue-worker.js'
import { storeKinds } from './support/stores.js'

const root = resolve(import.meta.dirname, '..')

/** Starts a worker process on the store and resolves once it is claiming. */
function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/support/queue-worker.ts')], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk) => (stderr += String(chunk)))
  return new Promise((resolvePromise, reject) => {
    child.stdout?.on('data', (chunk) => String(chunk).includes('ready') && resolvePromise(child))
    child.once('exit', (code) => reject(new Error(`worker exited early (${code}): ${stderr}`)))
  })
}

function stopWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null) return resolvePromise()
    child.once('exit', () => resolvePromise())
    child.kill('SIGTERM')
  })
}

describe.each(storeKinds())('serial queues and concurrency keys across processes on $name', (kind) => {
  const t = useErrand(kind)

  it('two worker processes never run two runs of a queue, or more than a key allows, at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'errand-procs-'))
    const children: ChildProcess[] = []
    try {
      const guarded = t.errand.task('guarded', {}, async (payload: GuardedPayload) => payload.n)
      const serial = Array.from({ length: 16 }, (_, n) => ({ payload: { n, group: 'serial', limit: 1, holdMs: 15 }, options: { queue: 'serial' } }))
      const keyed = Array.from({ length: 24 }, (_, n) => ({
        payload: { n, group: 'keyed', limit: 2, holdMs: 15 },
        options: { concurrencyKey: 'keyed', concurrencyLimit: 2 },
      }))
      const plain = Array.from({ length: 10 }, (_, n) => ({ payload: { n, group: 'plain', limit: 100, holdMs: 5 } }))
      // Interleaved, so every claim sees all three kinds at once.
      const items = Array.from({ length: 24 }, (_, i) => [serial[i], keyed[i], plain[i]].filter((x) => x !== undefined)).flat()
      const env = { ERRAND_TEST_STORE: JSON.stringify(t.store.spec), ERRAND_TEST_LOCKS: dir, ERRAND_TEST_LEDGER: join(dir, 'ledger.jsonl') }
      await t.errand.migrate()
      children.push(...(await Promise.all([startWorker(env), startWorker(env)])))
      // Enqueued once both are claiming, so that they compete for every run.
      const runs = await guarded.enqueueMany(items as never)
      await waitUntil(
        async () => (await t.errand.runs.list({ status: 'completed', limit: 1000 })).runs.length === runs.length,
        60_000,
        'every run to complete',
      )
      const ledger = readFileSync(join(dir, 'ledger.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as LedgerLine)
      const starts = ledger.filter((line) => line.event === 'start')
      expect(starts.filter((line) => line.violation)).toEqual([])
      expect(starts).toHaveLength(runs.length)
      // Both processes took part, and the queue ran in enqueue order.
      expect(new Set(starts.map((line) => line.pid)).size).toBe(2)
      expect(starts.filter((line) => line.group === 'serial').map((line) => line.n)).toEqual(serial.map((item) => item.payload.n))
      // The key was really used up to its limit at some point, not just run one at a time.
      let running = 0
      let peak = 0
      for (const line of ledger.filter((entry) => entry.group === 'keyed')) {
        running += line.event === 'start' ? 1 : -1
        peak = Math.max(peak, running)
      }
      expect(peak).toBe(2)
    } finally {
      await Promise.all(children.map(stopWorker))
      rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
