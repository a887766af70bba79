/**
 * The `errand` command, run as a child process (node + tsx on src/cli/main.ts) against real
 * stores seeded through the runtime: a SQLite file in a temp dir, and the suite's PostgreSQL.
 * Read-only tests share one seeded database; tests that change runs get their own.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createErrand, type Errand, type Run } from '../src/index.js'
import { sqliteStore } from '../src/storage/sqlite/index.js'
import { report, sendEmail, slow } from './support/cli-tasks.js'
import { storeKinds, type TestStore } from './support/stores.js'

const root = resolve(import.meta.dirname, '..')
const TSX = join(root, 'node_modules/tsx/dist/esm/index.mjs')
const MAIN = join(root, 'src/cli/main.ts')
const TASKS = join(root, 'test/support/cli-tasks.ts')

/** The environment without the variables that pick a database, so only `-d` decides. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra }
  for (const name of ['ERRAND_DATABASE', 'ERRAND_DB', 'DATABASE_URL', 'ERRAND_TOKEN']) if (!(name in extra)) delete env[name]
  return env
}

interface CliResult {
  status: number | null
  stdout: string
  stderr: string
}

function cli(args: string[], options: { env?: Record<string, string>; input?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, ['--import', TSX, MAIN, ...args], {
    env: cleanEnv(options.env),
    input: options.input,
    encoding: 'utf8',
    timeout: 30_000,
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** A usage or operational failure: one line on stderr, nothing on stdout. */
function expectFailure(result: CliResult, status: number, message: RegExp): void {
  expect(result.status, result.stderr).toBe(status)
  expect(result.stdout).toBe('')
  expect(result.stderr.trim().split('\n')).toHaveLength(1)
  expect(result.stderr).toMatch(message)
}

const json = <T = any>(result: CliResult): T => {
  expect(result.status, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as T
}

interface Seeded {
  queued: Run[]
  mail: Run[]
  completed: Run
  scheduled: Run
  all: string[]
}

/** Five queued send-email runs (two on the mail queue), a completed report with a log, and a report due in an hour. */
async function seed(errand: Errand): Promise<Seeded> {
  const tasks = errand.register({ sendEmail, report })
  const queued: Run[] = []
  for (let i = 0; i < 5; i++) queued.push((await tasks.sendEmail.enqueue({ to: `user${i}@example.com` }, i < 2 ? { queue: 'mail' } : {})).run)
  const done = await tasks.report.enqueue({ month: 'may' })
  const worker = errand.worker({ tasks: ['report'], pollInterval: '20ms' })
  await worker.start()
  const completed = await done.wait({ timeout: '10s' })
  await worker.stop()
  const scheduled = (await tasks.report.enqueue({ month: 'june' }, { delay: '1h' })).run
  return { queued, mail: queued.slice(0, 2), completed, scheduled, all: [...queued.map((run) => run.id), completed.id, scheduled.id] }
}

const dir = mkdtempSync(join(tmpdir(), 'errand-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('errand on a SQLite file (read-only commands)', () => {
  const db = join(dir, 'read.db')
  let seeded: Seeded

  beforeAll(async () => {
    const errand = createErrand({ store: sqliteStore({ path: db }) })
    seeded = await seed(errand)
    await errand.close()
  })

  it('lists every run newest first in a table, with the columns people need', () => {
    const result = cli(['runs', 'list', '-d', db])
    expect(result.status, result.stderr).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^ID\s+TASK\s+STATUS\s+ATTEMPT\s+RUN AT\s+CREATED\s+QUEUE$/)
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual([...seeded.all].reverse())
    expect(result.stdout).toMatch(new RegExp(`${seeded.completed.id}\\s+report\\s+completed\\s+1/3`))
    expect(result.stdout).toMatch(new RegExp(`${seeded.scheduled.id}\\s+report\\s+scheduled\\s+0/3\\s+in \\d+m`))
    expect(result.stdout).toMatch(new RegExp(`${seeded.mail[0]!.id}\\s+send-email\\s+queued.*mail$`, 'm'))
  })

  it('filters by status, task and queue, and prints the runtime JSON with --json', () => {
    const byStatus = json(cli(['runs', 'list', '-d', db, '--status', 'completed,scheduled', '--json']))
    expect(byStatus.runs.map((run: Run) => run.id).sort()).toEqual([seeded.completed.id, seeded.scheduled.id].sort())
    expect(byStatus.nextCursor).toBeNull()
    const byQueue = json(cli(['runs', 'list', '-d', db, '--task', 'send-email', '--queue', 'mail', '--json']))
    expect(byQueue.runs.map((run: Run) => run.id).sort()).toEqual(seeded.mail.map((run) => run.id).sort())
    expect(byQueue.runs[0]).toMatchObject({ task: 'send-email', status: 'queued', queue: 'mail', payload: { to: expect.any(String) } })
    expect(byQueue.runs[0].createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/)
    expectFailure(cli(['runs', 'list', '-d', db, '--status', 'finished']), 2, /unknown status "finished"/)
  })

  it('pages with the cursor it prints', () => {
    const first = json(cli(['runs', 'list', '-d', db, '--limit', '3', '--json']))
    expect(first.runs).toHaveLength(3)
    expect(first.nextCursor).toEqual(expect.any(String))
    const text = cli(['runs', 'list', '-d', db, '--limit', '3'])
    expect(text.stdout).toContain(`More: --after ${first.nextCursor}`)
    const second = json(cli(['runs', 'list', '-d', db, '--limit', '3', '--after', first.nextCursor, '--json']))
    const third = json(cli(['runs', 'list', '-d', db, '--limit', '3', '--after', second.nextCursor, '--json']))
    expect(third.nextCursor).toBeNull()
    const ids = [...first.runs, ...second.runs, ...third.runs].map((run: Run) => run.id)
    expect(ids).toEqual([...seeded.all].reverse())
  })

  it('shows a run with its fields, attempts and logs', () => {
    const text = cli(['runs', 'get', seeded.completed.id, '-d', db])
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toContain(`Run ${seeded.completed.id}`)
    expect(text.stdout).toMatch(/status\s+completed/)
    expect(text.stdout).toMatch(/payload\s+\{"month":"may"\}/)
    expect(text.stdout).toMatch(/output\s+\{"pages":3\}/)
    expect(text.stdout).toMatch(/Attempts \(1\)\n.*\n\s+1\s+completed/)
    expect(text.stdout).toMatch(/Logs \(1\)\n.*info\s+#1\s+rendered report\s+\{"pages":3\}/)
    const detail = json(cli(['runs', 'get', seeded.completed.id, '-d', db, '--json']))
    expect(detail.run).toMatchObject({ id: seeded.completed.id, status: 'completed', output: { pages: 3 } })
    expect(detail.attempts).toMatchObject([{ attempt: 1, outcome: 'completed' }])
    expect(detail.logs).toMatchObject([{ level: 'info', message: 'rendered report', data: { pages: 3 } }])
    expect(detail.steps).toEqual([])
  })

  it('refuses an unknown run id with exit 1 and one clear line', () => {
    const id = '01900000-0000-7000-8000-000000000000'
    expectFailure(cli(['runs', 'get', id, '-d', db]), 1, new RegExp(`^errand: Run ${id} not found\\n$`))
    expectFailure(cli(['runs', 'cancel', id, '-d', db]), 1, /not found/)
  })

  it('waits: exit 0 with the output of a completed run, exit 3 when the timeout passes first', () => {
    const done = cli(['runs', 'wait', seeded.completed.id, '-d', db])
    expect(done.status, done.stderr).toBe(0)
    expect(done.stdout).toBe(`Run ${seeded.completed.id} completed: {"pages":3}\n`)
    const started = Date.now()
    const pending = cli(['runs', 'wait', seeded.queued[0]!.id, '-d', db, '--timeout', '300ms', '--json'])
    expect(pending.status, pending.stderr).toBe(3)
    expect(JSON.parse(pending.stdout)).toMatchObject({ done: false, run: { id: seeded.queued[0]!.id, status: 'queued' } })
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
  })

  it('counts runs by status and task', () => {
    const counts = json(cli(['runs', 'counts', '-d', db, '--json']))
    expect(counts.total).toBe(7)
    expect(counts.byStatus).toMatchObject({ queued: 5, completed: 1, scheduled: 1, running: 0 })
    expect(counts.byTask).toEqual([
      { task: 'report', total: 2, byStatus: expect.objectContaining({ completed: 1, scheduled: 1 }) },
      { task: 'send-email', total: 5, byStatus: expect.objectContaining({ queued: 5 }) },
    ])
    const text = cli(['runs', 'counts', '-d', db])
    expect(text.stdout).toMatch(/^send-email\s+5\s+0\s+5\s/m)
  })

  it('turns bad usage into exit 2 with one line on stderr', () => {
    expectFailure(cli(['runz', 'list', '-d', db]), 2, /unknown command "runz"/)
    expectFailure(cli(['runs', 'list', '--bogus', '-d', db]), 2, /unknown option --bogus/)
    expectFailure(cli(['runs', 'list', '--limit', 'ten', '-d', db]), 2, /--limit must be a whole number/)
    expectFailure(cli(['runs', 'wait', seeded.completed.id, '--timeout', '5 parsecs', '-d', db]), 2, /--timeout: Invalid duration/)
    expectFailure(cli(['runs', 'get', '-d', db]), 2, /needs <id>/)
    expectFailure(cli(['runs', 'list', '-d', 'mysql://localhost/app']), 2, /unsupported database URL scheme "mysql:"/)
  })

  it('does not create a database that is not there, and says where it looked', () => {
    const missing = join(dir, 'typo.db')
    expectFailure(cli(['runs', 'list', '-d', missing]), 1, /No errand database at .*typo\.db/)
    expect(existsSync(missing)).toBe(false)
    // The environment picks the file when -d is absent: ERRAND_DATABASE first, then the example app's ERRAND_DB.
    const fromEnv = cli(['runs', 'list', '--json'], { env: { ERRAND_DB: missing, ERRAND_DATABASE: db } })
    expect(JSON.parse(fromEnv.stdout).runs).toHaveLength(7)
    expectFailure(cli(['runs', 'list'], { env: { ERRAND_DB: missing } }), 1, /typo\.db \(from \$ERRAND_DB\)/)
  })

  it('prints help and the version', () => {
    const help = cli(['--help'])
    expect(help.status).toBe(0)
    for (const command of ['runs list', 'runs get', 'runs cancel', 'runs replay', 'runs wait', 'runs counts', 'enqueue', 'schedules list', 'prune', 'migrate', 'worker', 'serve']) {
      expect(help.stdout).toContain(`  ${command}`)
    }
    const listHelp = cli(['runs', 'list', '--help'])
    expect(listHelp.stdout).toMatch(/--after CURSOR/)
    expect(cli(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('serves the HTTP API over the database and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, 'serve', '-d', db, '--port', '0'], { env: cleanEnv() })
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk) => {
          stdout += chunk
          const match = /serving (http:\/\/\S+\/)/.exec(stdout)
          if (match) resolve(match[1] as string)
        })
        child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)))
      })
      const response = await fetch(new URL('api/runs?limit=100', url))
      expect(response.status).toBe(200)
      const body = (await response.json()) as { runs: Run[] }
      expect(body.runs.map((run) => run.id)).toEqual([...seeded.all].reverse())
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      await expect(fetch(new URL('api/runs', url))).rejects.toThrow()
    } finally {
      child.kill('SIGKILL')
    }
  })
})

describe('errand on a SQLite file (commands that change runs)', () => {
  const db = join(dir, 'write.db')
  let errand: Errand
  let seeded: Seeded

  beforeAll(async () => {
    errand = createErrand({ store: sqliteStore({ path: db }) })
    seeded = await seed(errand)
  })
  afterAll(() => errand.close())

  const total = async () => (await errand.runs.counts()).total

  it('cancels a run, keeping the reason; cancelling it again fails with exit 1', async () => {
    const id = seeded.queued[4]!.id
    const result = cli(['runs', 'cancel', id, '--reason', 'customer asked', '-d', db])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain(`Cancelled run ${id}`)
    expect(await errand.runs.get(id)).toMatchObject({ status: 'cancelled', cancelReason: 'customer asked' })
    expectFailure(cli(['runs', 'cancel', id, '-d', db]), 1, /already cancelled/)
  })

  it('replays a finished run as a new run; refuses an unfinished one', async () => {
    const replayed = json(cli(['runs', 'replay', seeded.completed.id, '--reason', 'again', '-d', db, '--json']))
    expect(replayed.run.id).not.toBe(seeded.completed.id)
    expect(await errand.runs.get(replayed.run.id)).toMatchObject({ task: 'report', status: 'queued', payload: { month: 'may' }, replayOf: seeded.completed.id, replayReason: 'again' })
    expectFailure(cli(['runs', 'replay', seeded.queued[0]!.id, '-d', db]), 1, /Cannot replay run .* while it is queued/)
  })

  it('enqueues a run of a task from --tasks with the given options', async () => {
    const before = Date.now()
    const args = ['enqueue', 'send-email', '{"to":"ada@example.com"}', '--tasks', TASKS, '-d', db, '--json']
    const result = json(cli([...args, '--delay', '5m', '--priority=-2', '--queue', 'vip', '--idempotency-key', 'ada-1', '--max-attempts', '7']))
    expect(result).toMatchObject({ created: true, reason: null, run: { task: 'send-email', status: 'scheduled' } })
    const run = (await errand.runs.get(result.run.id))!
    expect(run).toMatchObject({ payload: { to: 'ada@example.com' }, priority: -2, queue: 'vip', idempotencyKey: 'ada-1', maxAttempts: 7 })
    expect(run.runAt.getTime() - before).toBeGreaterThanOrEqual(5 * 60_000 - 1_000)
    expect(run.runAt.getTime() - before).toBeLessThan(5 * 60_000 + 30_000)
    // The same idempotency key returns the run instead of adding one.
    const again = json(cli([...args, '--idempotency-key', 'ada-1']))
    expect(again).toMatchObject({ created: false, reason: 'idempotent', run: { id: run.id } })
    const atTime = json(cli(['enqueue', 'report', '--tasks', TASKS, '-d', db, '--run-at', '2030-01-31T09:00:00Z', '--json']))
    expect((await errand.runs.get(atTime.run.id))!.runAt.toISOString()).toBe('2030-01-31T09:00:00.000Z')
    const fromStdin = json(cli(['enqueue', 'send-email', '-', '--tasks', TASKS, '-d', db, '--json'], { input: '{"to":"stdin@example.com"}' }))
    expect((await errand.runs.get(fromStdin.run.id))!.payload).toEqual({ to: 'stdin@example.com' })
  })

  it('refuses bad input to enqueue and inserts nothing', async () => {
    const count = await total()
    const enqueue = (...rest: string[]) => cli(['enqueue', 'send-email', ...rest, '--tasks', TASKS, '-d', db])
    expectFailure(enqueue('{"to":'), 2, /the payload is not valid JSON/)
    expectFailure(enqueue('{"to":"a@b"}', '--delay', '5 minutes'), 2, /--delay: Invalid duration/)
    expectFailure(enqueue('{"to":"a@b"}', '--run-at', 'tomorrow'), 2, /--run-at must be an ISO 8601 time/)
    expectFailure(enqueue('{"to":"a@b"}', '--delay', '1m', '--run-at', '2030-01-01T00:00:00Z'), 2, /either --delay or --run-at/)
    expectFailure(enqueue('{"to":42}'), 2, /Invalid payload for task "send-email": to:/)
    expectFailure(cli(['enqueue', 'no-such-task', '{}', '--tasks', TASKS, '-d', db]), 1, /Unknown task "no-such-task": .* defines report, send-email, slow$/m)
    expectFailure(cli(['enqueue', 'send-email', '{"to":"a@b"}', '-d', db]), 2, /needs the task definitions: pass --tasks/)
    expect(await total()).toBe(count)
  })

  it('prunes finished runs older than a duration, and only those', async () => {
    const count = await total()
    const finished = (await errand.runs.list({ status: ['completed', 'cancelled'], limit: 1000 })).runs
    expect(finished.length).toBeGreaterThan(0)
    expectFailure(cli(['prune', '-d', db]), 2, /needs --older-than/)
    expect(json(cli(['prune', '--older-than', '1h', '-d', db, '--json']))).toMatchObject({ deleted: 0 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(json(cli(['prune', '--older-than', '10ms', '-d', db, '--json']))).toMatchObject({ deleted: finished.length })
    expect(await total()).toBe(count - finished.length)
    for (const run of finished) expect(await errand.runs.get(run.id)).toBeNull()
  })

  it('migrate creates a new database that the other commands then read', () => {
    const fresh = join(dir, 'fresh.db')
    const result = cli(['migrate', '-d', fresh])
    expect(result.status, result.stderr).toBe(0)
    expect(existsSync(fresh)).toBe(true)
    const list = cli(['runs', 'list', '-d', fresh])
    expect(list.stdout).toBe('No runs.\n')
  })
})

/** A long-lived command as a child process: its output so far, a wait for a line, its exit. */
function startCli(args: string[]) {
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { env: cleanEnv() })
  let stdout = ''
  let stderr = ''
  const waiters: Array<() => void> = []
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    for (const wake of waiters.splice(0)) wake()
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    exited,
    get stdout() {
      return stdout
    },
    get stderr() {
      return stderr
    },
    /** Resolves once stdout matches; rejects if the process exits first. */
    async output(pattern: RegExp): Promise<RegExpExecArray> {
      for (;;) {
        const match = pattern.exec(stdout)
        if (match) return match
        const next = new Promise<'exited' | void>((resolve) => waiters.push(resolve))
        if ((await Promise.race([next, exited.then(() => 'exited' as const)])) === 'exited' && !pattern.test(stdout)) {
          throw new Error(`exited before printing ${pattern}: ${stderr}`)
        }
      }
    },
  }
}

describe('errand worker on a SQLite file', () => {
  const db = join(dir, 'worker.db')
  let errand: Errand
  let tasks: ReturnType<typeof register>
  const register = (on: Errand) => on.register({ sendEmail, report, slow })

  beforeAll(() => {
    errand = createErrand({ store: sqliteStore({ path: db }) })
    tasks = register(errand)
  })
  afterAll(() => errand.close())

  it('runs the runs of its tasks, prints each one finished, and on SIGTERM lets the run in flight complete', async () => {
    const worker = startCli(['worker', '--tasks', TASKS, '-d', db, '--poll-interval', '50ms'])
    try {
      await worker.output(/errand worker \S+: report, send-email, slow, concurrency 10/)
      const email = await tasks.sendEmail.enqueue({ to: 'ada@example.com' })
      expect(await email.wait({ timeout: '10s' })).toMatchObject({ status: 'completed', output: { sent: 'ada@example.com' } })
      await worker.output(new RegExp(`completed +send-email ${email.id} in \\d+ ms`))
      const long = await tasks.slow.enqueue({})
      while ((await errand.runs.get(long.id))?.status !== 'running') await new Promise((resolve) => setTimeout(resolve, 20))
      worker.child.kill('SIGTERM')
      expect(await worker.exited, worker.stderr).toBe(0)
      expect(worker.stdout).toMatch(/Stopping: runs in flight finish first[\s\S]*completed +slow[\s\S]*Stopped/)
      expect(await errand.runs.get(long.id)).toMatchObject({ status: 'completed', attempt: 1, output: { slept: true } })
    } finally {
      worker.child.kill('SIGKILL')
    }
  })

  it('refuses bad options before it claims anything', async () => {
    const queued = await tasks.report.enqueue({})
    const worker = (...rest: string[]) => cli(['worker', '-d', db, ...rest])
    expectFailure(worker(), 2, /worker needs --tasks MODULE/)
    expectFailure(worker('--tasks', TASKS, '--only', 'report,nope'), 2, /--only: the module exports no task "nope"/)
    expectFailure(worker('--tasks', TASKS, '--concurrency', '0'), 2, /--concurrency must be a whole number from 1/)
    expectFailure(worker('--tasks', TASKS, '--lease', 'forever'), 2, /--lease: Invalid duration/)
    expectFailure(worker('--tasks', TASKS, '--lease', '500ms'), 2, /lease must be at least 1s/)
    expect(await errand.runs.get(queued.id)).toMatchObject({ status: 'queued', attempt: 0 })
  })
})

const postgres = storeKinds().find((kind) => kind.name === 'postgres')

describe.skipIf(!postgres)('errand on PostgreSQL', () => {
  let store: TestStore
  let errand: Errand
  let seeded: Seeded
  let base: string[]

  beforeAll(async () => {
    store = await postgres!.create()
    const spec = store.spec as { connectionString: string; schema: string }
    base = ['-d', spec.connectionString, '--schema', spec.schema]
    errand = createErrand({ store: store.open() })
    seeded = await seed(errand)
  })
  afterAll(async () => {
    await errand?.close()
    await store?.cleanup()
  })

  it('lists, filters and gets runs', () => {
    const all = json(cli(['runs', 'list', ...base, '--json']))
    expect(all.runs.map((run: Run) => run.id)).toEqual([...seeded.all].reverse())
    const mail = cli(['runs', 'list', ...base, '--queue', 'mail'])
    expect(mail.status, mail.stderr).toBe(0)
    expect(mail.stdout.trim().split('\n')).toHaveLength(3)
    const detail = cli(['runs', 'get', seeded.completed.id, ...base])
    expect(detail.stdout).toMatch(/Attempts \(1\)\n.*\n\s+1\s+completed/)
    expect(detail.stdout).toMatch(/rendered report/)
    expectFailure(cli(['runs', 'get', '01900000-0000-7000-8000-000000000000', ...base]), 1, /not found/)
  })

  it('cancels a run in the store', async () => {
    const id = seeded.queued[1]!.id
    const result = cli(['runs', 'cancel', id, '--reason', 'pg', ...base])
    expect(result.status, result.stderr).toBe(0)
    expect(await errand.runs.get(id)).toMatchObject({ status: 'cancelled', cancelReason: 'pg' })
  })
})
