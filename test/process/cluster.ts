/**
 * Starts, watches and kills the child processes of a process-level test, and gives the
 * test what it needs around them: a parent errand on the same store, ack files, waits on
 * conditions. `ProcessGroup.killAll()` in `afterEach` leaves no child behind, pass or fail.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Errand } from '../../src/runtime/errand.js'
import { openStore, type StoreSpec, type TestStore } from '../support/stores.js'
import type { Death, Stall } from './ledger.js'
import { LEDGER_TASK, type ChildMessage, type JobPayload, type ProducerProcessConfig, type WorkerProcessConfig } from './protocol.js'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url))
const PRODUCER_SCRIPT = fileURLToPath(new URL('./producer-process.ts', import.meta.url))

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  at: number
}

/** One child process and what it said. */
export class Child {
  readonly pid: number
  readonly messages: ChildMessage[] = []
  readonly exited: Promise<Exit>
  exit: Exit | null = null
  stderr = ''
  workerId: string | null = null
  /** Set when the test killed or stopped it on purpose. */
  killedAt: number | null = null
  private stdoutBuffer = ''
  private readonly listeners = new Set<() => void>()

  constructor(
    readonly kind: 'worker' | 'producer',
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    if (proc.pid === undefined) throw new Error(`could not start ${name}`)
    this.pid = proc.pid
    proc.stdout?.setEncoding('utf8')
    proc.stderr?.setEncoding('utf8')
    proc.stdout?.on('data', (chunk: string) => this.onStdout(chunk))
    proc.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000)
    })
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() }
        this.notify()
        resolve(this.exit)
      })
    })
  }

  get alive(): boolean {
    return this.exit === null
  }

  private onStdout(chunk: string): void {
    this.stdoutBuffer += chunk
    const lines = this.stdoutBuffer.split('\n')
    this.stdoutBuffer = lines.pop() ?? ''
    for (const line of lines) {
      if (!line.startsWith('{')) continue
      try {
        const message = JSON.parse(line) as ChildMessage
        if (message.type === 'ready') this.workerId = message.workerId
        this.messages.push(message)
      } catch {
        // not one of ours
      }
    }
    this.notify()
  }

  private notify(): void {
    for (const listener of this.listeners) listener()
  }

  /** Resolves with the first message of a type; rejects if the process exits first or on timeout. */
  waitFor<T extends ChildMessage['type']>(type: T, timeoutMs = 30_000): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find((message) => message.type === type)
        if (found) return done(() => resolve(found as Extract<ChildMessage, { type: T }>))
        if (this.exit) return done(() => reject(new Error(`${this.name} (pid ${this.pid}) exited ${JSON.stringify(this.exit)} before "${type}"\n${this.stderr}`)))
      }
      const timer = setTimeout(() => done(() => reject(new Error(`${this.name} (pid ${this.pid}) sent no "${type}" within ${timeoutMs}ms\n${this.stderr}`))), timeoutMs)
      const done = (settle: () => void) => {
        clearTimeout(timer)
        this.listeners.delete(check)
        settle()
      }
      this.listeners.add(check)
      check()
    })
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal)
  }

  /** SIGKILL; resolves when it is gone. Returns when the signal was sent. */
  async kill(): Promise<number> {
    const at = Date.now()
    this.killedAt = at
    this.signal('SIGKILL')
    await this.exited
    return at
  }

  /** The death record for the ledger checker. */
  death(how: Death['how'], at = this.killedAt ?? this.exit?.at ?? Date.now()): Death {
    return { pid: this.pid, workerId: this.workerId ?? `unknown-${this.pid}`, at, how }
  }

  messagesOf<T extends ChildMessage['type']>(type: T): Array<Extract<ChildMessage, { type: T }>> {
    return this.messages.filter((message) => message.type === type) as Array<Extract<ChildMessage, { type: T }>>
  }
}

/** The children of one test. */
export class ProcessGroup {
  readonly children: Child[] = []

  spawnWorker(config: WorkerProcessConfig): Child {
    return this.spawn('worker', config.name, WORKER_SCRIPT, config)
  }

  spawnProducer(name: string, config: ProducerProcessConfig): Child {
    return this.spawn('producer', name, PRODUCER_SCRIPT, config)
  }

  private spawn(kind: Child['kind'], name: string, script: string, config: unknown): Child {
    const proc = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, ERRAND_PROCESS_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const child = new Child(kind, name, proc)
    this.children.push(child)
    return child
  }

  get alive(): Child[] {
    return this.children.filter((child) => child.alive)
  }

  /** SIGKILLs every child still running and waits for them: for afterEach. */
  async killAll(): Promise<void> {
    await Promise.all(this.alive.map((child) => child.kill()))
  }

  /** Every event-loop stall a worker child reported, for the ledger checker. */
  stalls(): Stall[] {
    return this.children.flatMap((child) =>
      child.messagesOf('stall').map((stall) => ({ workerId: child.workerId ?? `unknown-${child.pid}`, at: stall.at, ms: stall.ms })),
    )
  }

  /**
   * Per store method, over every worker that stopped cleanly: how many calls blocked the
   * event loop for 500 ms or more (SQLite does its lock waits and fsyncs synchronously).
   */
  storeBlocking(): string[] {
    const total = new Map<string, { calls: number; slow: number; max: number }>()
    for (const stats of this.children.flatMap((child) => child.messagesOf('stats'))) {
      for (const [method, entry] of Object.entries(stats.storeSyncMs)) {
        const sum = total.get(method) ?? { calls: 0, slow: 0, max: 0 }
        total.set(method, { calls: sum.calls + entry.calls, slow: sum.slow + entry.slow, max: Math.max(sum.max, entry.max) })
      }
    }
    return [...total].filter(([, entry]) => entry.slow > 0).map(([method, entry]) => `${method}: ${entry.slow}/${entry.calls}, max ${entry.max}`)
  }

  /** Stderr of every child that wrote any, for a failure message. */
  diagnostics(): string {
    return this.children
      .filter((child) => child.stderr.trim())
      .map((child) => `--- ${child.name} pid ${child.pid} exit ${JSON.stringify(child.exit)}\n${child.stderr.slice(-4_000)}`)
      .join('\n')
  }
}

/**
 * A fixed number of worker slots, each held by one process at a time. A process that
 * exits on its own (a crash) is recorded as a death and replaced; `kill(slot)` SIGKILLs one
 * and starts its replacement; `stop()` SIGTERMs them all.
 */
export class WorkerPool {
  readonly slots: Child[] = []
  readonly deaths: Death[] = []
  /** Processes that exited on their own, in order. */
  readonly crashes: Child[] = []
  private stopping = false
  private restarts = 0

  constructor(
    private readonly group: ProcessGroup,
    private readonly config: (slot: number) => WorkerProcessConfig,
    size: number,
    private readonly maxRestarts = 30,
  ) {
    for (let slot = 0; slot < size; slot++) this.spawn(slot)
  }

  /** Waits until every slot's current process is ready. */
  async ready(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.slots.map((child) => child.waitFor('ready', timeoutMs)))
  }

  private spawn(slot: number): Child {
    const child = this.group.spawnWorker(this.config(slot))
    this.slots[slot] = child
    void child.exited.then((exit) => {
      if (this.stopping || child.killedAt !== null) return
      this.deaths.push(child.death('exit', exit.at))
      this.crashes.push(child)
      if (this.restarts++ < this.maxRestarts && this.slots[slot] === child) this.spawn(slot)
    })
    return child
  }

  /** SIGKILLs the slot's process and starts a new one in its place. */
  async kill(slot: number): Promise<{ death: Death; replacement: Child }> {
    const victim = this.slots[slot] as Child
    const at = await victim.kill()
    const death = victim.death('SIGKILL', at)
    this.deaths.push(death)
    return { death, replacement: this.spawn(slot) }
  }

  /** SIGTERMs every live slot and waits for the exits. */
  async stop(): Promise<Exit[]> {
    this.stopping = true
    const live = this.slots.filter((child) => child.alive)
    // A process signalled before its handler is installed would die of the signal instead.
    await Promise.all(live.map((child) => child.waitFor('ready').catch(() => undefined)))
    for (const child of live) child.signal('SIGTERM')
    return Promise.all(live.map((child) => child.exited))
  }
}

/** What a process test sets up; any of it may be missing when the test failed early. */
export interface ProcessTestParts {
  group?: ProcessGroup | undefined
  store?: TestStore | undefined
  errand?: Errand | undefined
  dir?: ReturnType<typeof tempDir> | undefined
}

/** Tears down what a process test set up: the child processes first (they hold the store), then the parent errand, the store and the folder. */
export async function tearDownProcessTest(parts: ProcessTestParts): Promise<void> {
  await parts.group?.killAll()
  await parts.errand?.close({ timeout: '1s' })
  await parts.store?.cleanup()
  parts.dir?.remove()
}

/** An errand in the test process on the same store, with `ledger-task` registered (it never runs here). */
export async function parentErrand(spec: StoreSpec): Promise<Errand> {
  const errand = new Errand({ store: openStore(spec) })
  errand.task<JobPayload>(LEDGER_TASK, {}, () => {
    throw new Error('the test process runs no handlers')
  })
  await errand.migrate()
  return errand
}

/** A temporary folder, removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** The ids in a producer's ack file (a torn last line, from a kill mid-write, is not an ack). */
export function readAcks(path: string): string[] {
  if (!existsSync(path)) return []
  const ids: string[] = []
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue
    try {
      ids.push(...(JSON.parse(line) as { ids: string[] }).ids)
    } catch {
      // torn by a kill: never acknowledged in full
    }
  }
  return ids
}

/**
 * Polls `check` every `intervalMs` until it returns something truthy; throws after
 * `timeoutMs` with `describe()` in the message.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T> | T,
  options: { timeoutMs: number; intervalMs?: number; describe?: () => Promise<string> | string },
): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) {
      const detail = options.describe ? await options.describe() : ''
      throw new Error(`timed out after ${options.timeoutMs}ms waiting for ${what}${detail ? `\n${detail}` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100))
  }
}

/** A seed from ERRAND_SEED, or a fresh one. Print it so a failing schedule can be replayed. */
export function testSeed(): number {
  const fromEnv = process.env.ERRAND_SEED
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31)
}

/** Whether the long versions of the process tests should run. */
export const LONG_TESTS = process.env.ERRAND_LONG_TESTS === '1'
