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
    for (const command of ['runs list', 'runs get', 'runs cancel', 'runs replay', 'runs cancel-many', 'runs replay-many', 'runs wait', 'runs counts', 'enqueue', 'schedules list', 'schedules upsert', 'prune', 'migrate', 'worker', 'serve']) {
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

describe('errand runs cancel-many and replay-many on a SQLite file', () => {
  const db = join(dir, 'bulk.db')
  let errand: Errand
  let tasks: ReturnType<typeof register>
  const register = (on: Errand) => on.register({ sendEmail, report })

  beforeAll(() => {
    errand = createErrand({ store: sqliteStore({ path: db }) })
    tasks = register(errand)
  })
  afterAll(() => errand.close())

  /** Runs of send-email enqueued one after the other, so their order (newest first) is known. */
  const enqueueEmails = async (count: number, queue?: string): Promise<Run[]> => {
    const runs: Run[] = []
    for (let i = 0; i < count; i++) runs.push((await tasks.sendEmail.enqueue({ to: `bulk${i}@example.com` }, queue ? { queue } : {})).run)
    return runs
  }
  const statusOf = async (run: Run) => (await errand.runs.get(run.id))?.status
  const ids = (runs: Run[]) => runs.map((run) => run.id)

  it('cancel-many cancels the runs the filter matches and no others, newest first, at most --max', async () => {
    const mail = await enqueueEmails(4, 'bulk-mail')
    const other = await enqueueEmails(2)
    const reports = [(await tasks.report.enqueue({}, { queue: 'bulk-mail' })).run]
    const filter = ['--task', 'send-email', '--queue', 'bulk-mail', '-d', db]

    const first = json(cli(['runs', 'cancel-many', ...filter, '--max', '3', '--reason', 'bad template', '--json']))
    // The BulkResult as it is, as POST api/runs/cancel answers.
    expect(first).toEqual({ ids: ids(mail.slice(1)).reverse(), skipped: 0, more: true })
    for (const run of mail.slice(1)) expect(await errand.runs.get(run.id)).toMatchObject({ status: 'cancelled', cancelReason: 'bad template' })
    expect(await statusOf(mail[0]!)).toBe('queued')

    const rest = cli(['runs', 'cancel-many', ...filter])
    expect(rest.status, rest.stderr).toBe(0)
    expect(rest.stdout).toBe('Cancelled 1 run\n')
    expect(await statusOf(mail[0]!)).toBe('cancelled')
    expect(cli(['runs', 'cancel-many', ...filter]).stdout).toBe('Cancelled 0 runs\n')
    // Other tasks on the queue and the task's runs elsewhere were not touched.
    for (const run of [...other, ...reports]) expect(await statusOf(run)).toBe('queued')

    const more = cli(['runs', 'cancel-many', '--task', 'send-email', '--max', '1', '-d', db])
    expect(more.stdout).toBe('Cancelled 1 run; more match: run again\n')
    expect(await statusOf(other[1]!)).toBe('cancelled')
    expect(await statusOf(other[0]!)).toBe('queued')
  })

  it('--dry-run counts and lists what would be cancelled or replayed, and changes nothing', async () => {
    const queued = await enqueueEmails(3, 'bulk-dry')
    const cancelled = await enqueueEmails(2, 'bulk-dry')
    for (const run of cancelled) await errand.runs.cancel(run.id)
    const before = await errand.runs.counts()

    const all = json(cli(['runs', 'cancel-many', '--queue', 'bulk-dry', '--dry-run', '--json', '-d', db]))
    // Only the runs cancel-many would act on: the cancelled ones are left out.
    expect(all.count).toBe(3)
    expect(all.more).toBe(false)
    expect(ids(all.runs)).toEqual(ids(queued).reverse())

    const capped = cli(['runs', 'cancel-many', '--queue', 'bulk-dry', '--max', '2', '--dry-run', '-d', db])
    expect(capped.status, capped.stderr).toBe(0)
    const lines = capped.stdout.trim().split('\n')
    expect(lines[0]).toBe('Would cancel 2 runs; more match (dry run: nothing changed)')
    expect(lines[2]).toMatch(/^ID\s+TASK\s+STATUS/)
    expect(lines.slice(3).map((line) => line.split(/\s+/)[0])).toEqual(ids(queued.slice(1)).reverse())

    const replay = json(cli(['runs', 'replay-many', '--queue', 'bulk-dry', '--dry-run', '--json', '-d', db]))
    expect(replay).toMatchObject({ count: 2, more: false })
    expect(ids(replay.runs)).toEqual(ids(cancelled).reverse())

    expect(await errand.runs.counts()).toEqual(before)
    for (const run of queued) expect(await statusOf(run)).toBe('queued')
  })

  it('replay-many replays the finished runs the filter matches as new runs, and only those', async () => {
    const runs = await enqueueEmails(4, 'bulk-replay')
    const [unfinished, ...finished] = runs as [Run, ...Run[]]
    for (const run of finished) await errand.runs.cancel(run.id)

    const first = json(cli(['runs', 'replay-many', '--queue', 'bulk-replay', '--max', '2', '--reason', 'template fixed', '--json', '-d', db]))
    expect(first).toMatchObject({ skipped: 0, more: true })
    expect(first.ids).toHaveLength(2)
    const replays = await Promise.all(first.ids.map((id: string) => errand.runs.get(id)))
    // The newest two finished runs, each replayed once, into a new queued run.
    expect(replays.map((run) => run!.replayOf).sort()).toEqual(ids(finished.slice(1)).sort())
    for (const run of replays) expect(run).toMatchObject({ task: 'send-email', status: 'queued', queue: 'bulk-replay', replayReason: 'template fixed' })

    const rest = cli(['runs', 'replay-many', '--queue', 'bulk-replay', '--status', 'cancelled', '--created-before', new Date(Date.now() + 60_000).toISOString(), '-d', db])
    expect(rest.status, rest.stderr).toBe(0)
    // All three cancelled runs: a run replayed before is still cancelled, so it is replayed again.
    expect(rest.stdout).toBe('Replayed 3 runs\n')
    const made = (await errand.runs.list({ queue: 'bulk-replay', limit: 100 })).runs.filter((run) => run.replayOf !== null)
    expect(made.map((run) => run.replayOf).sort()).toEqual([...ids(finished.slice(1)), ...ids(finished)].sort())
    // The unfinished run was not replayed, and the originals are as they were.
    expect(made.some((run) => run.replayOf === unfinished.id)).toBe(false)
    for (const run of finished) expect(await statusOf(run)).toBe('cancelled')
  })

  it('refuses a missing filter, a status it cannot act on and a bad --max before opening the store, and changes nothing', async () => {
    await enqueueEmails(1)
    const before = await errand.runs.counts()
    const missing = join(dir, 'bulk-typo.db')
    // The store is never opened: a path that does not exist still gets the usage error.
    expectFailure(cli(['runs', 'cancel-many', '-d', missing]), 2, /runs cancel-many needs a filter \(--status, --task, .*\); it never acts on every run/)
    expect(existsSync(missing)).toBe(false)
    expectFailure(cli(['runs', 'cancel-many', '-d', db]), 2, /needs a filter/)
    expectFailure(cli(['runs', 'cancel-many', '--reason', 'all of them', '--max', '10', '-d', db]), 2, /needs a filter/)
    expectFailure(cli(['runs', 'replay-many', '--dry-run', '-d', db]), 2, /runs replay-many needs a filter/)
    expectFailure(cli(['runs', 'cancel-many', '--status', 'queued,completed', '-d', db]), 2, /acts only on scheduled, queued or running runs; --status completed matches none/)
    expectFailure(cli(['runs', 'replay-many', '--status', 'queued', '-d', db]), 2, /acts only on completed, cancelled or dead_lettered runs/)
    expectFailure(cli(['runs', 'cancel-many', '--task', 'send-email', '--max', '0', '-d', db]), 2, /--max must be a whole number from 1 to 10000/)
    expectFailure(cli(['runs', 'cancel-many', '--task', 'send-email', '--max', '10001', '-d', db]), 2, /--max must be a whole number from 1 to 10000/)
    expectFailure(cli(['runs', 'cancel-many', '--created-from', 'yesterday', '-d', db]), 2, /--created-from must be an ISO 8601 time/)
    expect(await errand.runs.counts()).toEqual(before)
  })
})

describe('errand schedules upsert on a SQLite file', () => {
  const db = join(dir, 'schedules.db')
  let errand: Errand

  beforeAll(() => {
    errand = createErrand({ store: sqliteStore({ path: db }) })
    errand.register({ sendEmail, report })
  })
  afterAll(() => errand.close())

  const upsert = (key: string, ...rest: string[]) => cli(['schedules', 'upsert', key, '--tasks', TASKS, '-d', db, ...rest])
  /** The hour and minute of a time in a zone: '02:00'. */
  const clockIn = (date: Date, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(date)

  it('an update keeps the run options set through the API unless run-option flags replace them', async () => {
    await errand.schedules.upsert({ key: 'tuned', task: 'report', cron: '@daily', options: { priority: 5, queue: 'reports', maxAttempts: 7 } })
    const updated = upsert('tuned', '--task', 'report', '--cron', '@hourly')
    expect(updated.status, updated.stderr).toBe(0)
    expect(await errand.schedules.get('tuned')).toMatchObject({ cron: '@hourly', options: { priority: 5, queue: 'reports', maxAttempts: 7 } })
    // Any run-option flag replaces them all.
    const flagged = upsert('tuned', '--task', 'report', '--cron', '@hourly', '--priority=-2', '--timeout', 'none', '--concurrency-key', 'tenant-1', '--concurrency-limit', '3', '--flag', 'gpu', '--flag', 'eu')
    expect(flagged.status, flagged.stderr).toBe(0)
    expect((await errand.schedules.get('tuned'))?.options).toEqual({ priority: -2, timeout: false, concurrencyKey: 'tenant-1', concurrencyLimit: 3, flags: ['gpu', 'eu'] })
    const before = await errand.schedules.get('tuned')
    expectFailure(upsert('tuned', '--task', 'report', '--cron', '@hourly', '--concurrency-limit', '0'), 2, /--concurrency-limit must be a whole number from 1/)
    expectFailure(upsert('tuned', '--task', 'report', '--cron', '@hourly', '--timeout', 'soon'), 2, /--timeout/)
    expectFailure(upsert('tuned', '--task', 'report', '--cron', '@hourly', '--concurrency-limit', '2'), 2, /concurrencyLimit/)
    expect(await errand.schedules.get('tuned')).toEqual(before)
    await errand.schedules.remove('tuned') // the tests below share the file
  })

  it('creates a schedule, then updates the same key in place', async () => {
    const created = upsert('nightly', '--task', 'report', '--cron', '0 2 * * *', '--timezone', 'Europe/Berlin')
    expect(created.status, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/^Created schedule nightly\n/)
    expect(created.stdout).toMatch(/task\s+report\n\s+cron\s+0 2 \* \* \*\n\s+time zone\s+Europe\/Berlin\n\s+state\s+active\n\s+next tick\s+\d{4}-\d{2}-\d{2}T\S+Z \(in \d+[smhd]\)/)
    const stored = (await errand.schedules.get('nightly'))!
    expect(stored).toMatchObject({ task: 'report', cron: '0 2 * * *', timezone: 'Europe/Berlin', enabled: true, catchUp: 'latest', overlap: 'allow' })
    // The expression reads in the zone: the next tick is 02:00 in Berlin.
    expect(clockIn(stored.nextTickAt!, 'Europe/Berlin')).toBe('02:00')
    expect(created.stdout).toContain(stored.nextTickAt!.toISOString())

    const args = ['--task', 'send-email', '--cron', '*/15 * * * *', '--payload', '-', '--catch-up', '4', '--catch-up-within', '1h', '--overlap', 'skip', '--paused', '--json']
    const updated = json(cli(['schedules', 'upsert', 'nightly', ...args, '--tasks', TASKS, '-d', db], { input: '{"to":"ops@example.com"}' }))
    expect(updated.schedule).toMatchObject({
      key: 'nightly',
      task: 'send-email',
      cron: '*/15 * * * *',
      timezone: 'UTC',
      payload: { to: 'ops@example.com' },
      catchUp: { max: 4, within: '1h' },
      overlap: 'skip',
      enabled: false,
      nextTickAt: null,
    })
    expect(await errand.schedules.get('nightly')).toMatchObject({ task: 'send-email', payload: { to: 'ops@example.com' }, enabled: false, createdAt: stored.createdAt })
    expect((await errand.schedules.list()).map((schedule) => schedule.key)).toEqual(['nightly'])

    // Without --paused an update keeps the schedule's state; the policies left out are the defaults again.
    const again = upsert('nightly', '--task', 'report', '--cron', '0 2 * * *')
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/^Updated schedule nightly\n[\s\S]*state\s+paused\n\s+next tick\s+-\n\s+catch-up\s+latest\n\s+overlap\s+allow\n$/)
    expect(await errand.schedules.get('nightly')).toMatchObject({ task: 'report', timezone: 'UTC', enabled: false, catchUp: 'latest', overlap: 'allow', payload: null })

    // The same upsert twice: the second changes nothing, and still says the schedule existed.
    expect(upsert('hourly', '--task', 'report', '--cron', '@hourly').stdout).toMatch(/^Created schedule hourly\n/)
    expect(upsert('hourly', '--task', 'report', '--cron', '@hourly').stdout).toMatch(/^Updated schedule hourly\n/)
  })

  it('refuses a bad cron expression, time zone, policy or payload and stores nothing; an unknown task exits 1', async () => {
    const before = await errand.schedules.list()
    const bad = (...rest: string[]) => upsert('bad', '--task', 'report', ...rest)
    expectFailure(bad('--cron', '0 25 * * *'), 2, /Invalid cron expression "0 25 \* \* \*"/)
    expectFailure(bad('--cron', '0 0 30 2 *'), 2, /The cron expression "0 0 30 2 \*" never fires/)
    expectFailure(bad('--cron', '0 2 * * *', '--timezone', 'Mars/Olympus'), 2, /Unknown time zone "Mars\/Olympus"/)
    expectFailure(bad('--cron', '0 2 * * *', '--overlap', 'sometimes'), 2, /overlap must be 'allow', 'skip' or 'queue', got "sometimes"/)
    expectFailure(bad('--cron', '0 2 * * *', '--catch-up', 'all'), 2, /--catch-up must be none, latest or a number of missed ticks from 1 to 1000, got "all"/)
    expectFailure(bad('--cron', '0 2 * * *', '--catch-up', '1001'), 2, /--catch-up must be a whole number from 1 to 1000/)
    expectFailure(bad('--cron', '0 2 * * *', '--catch-up', 'latest', '--catch-up-within', '1h'), 2, /--catch-up-within goes with --catch-up N/)
    expectFailure(bad('--cron', '0 2 * * *', '--payload', '{"to":'), 2, /the payload is not valid JSON/)
    expectFailure(bad('--cron', '0 2 * * *', '--payload', '{"to":42}', '--task', 'send-email'), 2, /Invalid payload for schedule "bad" of task "send-email": to:/)
    expectFailure(bad(), 2, /needs --task TASK and --cron EXPR/)
    expectFailure(cli(['schedules', 'upsert', 'bad', '--task', 'report', '--cron', '0 2 * * *', '-d', db]), 2, /needs the task definitions: pass --tasks/)
    expectFailure(upsert('bad', '--task', 'no-such-task', '--cron', '0 2 * * *'), 1, /Unknown task "no-such-task": .* defines report, send-email, slow$/m)
    // Checked before the store is opened: a missing database is not even looked for.
    const missing = join(dir, 'schedules-typo.db')
    expectFailure(cli(['schedules', 'upsert', 'bad', '--task', 'report', '--cron', 'every day', '--tasks', TASKS, '-d', missing]), 2, /Invalid cron expression/)
    expect(existsSync(missing)).toBe(false)
    expect(await errand.schedules.get('bad')).toBeNull()
    expect(await errand.schedules.list()).toEqual(before)
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

describe('errand serve --token and --read-only', () => {
  const db = join(dir, 'serve.db')
  const TOKEN = 'a-long-test-token'
  let errand: Errand
  let tasks: ReturnType<typeof register>
  const register = (on: Errand) => on.register({ sendEmail })

  beforeAll(() => {
    errand = createErrand({ store: sqliteStore({ path: db }) })
    tasks = register(errand)
  })
  afterAll(() => errand.close())

  /** `errand serve` on a free port with these flags; `stop` sends SIGTERM and expects exit 0. */
  async function serveWith(...flags: string[]) {
    const server = startCli(['serve', '-d', db, '--port', '0', ...flags])
    try {
      const url = (await server.output(/serving (http:\/\/\S+\/)/))[1] as string
      return {
        url,
        async stop() {
          server.child.kill('SIGTERM')
          expect(await server.exited, server.stderr).toBe(0)
        },
        kill: () => server.child.kill('SIGKILL'),
      }
    } catch (error) {
      server.child.kill('SIGKILL')
      throw error
    }
  }
  const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code

  it('--token: a request without the token gets 401, one with it as Bearer or basic-auth password is served', async () => {
    const run = (await tasks.sendEmail.enqueue({ to: 'token@example.com' })).run
    const server = await serveWith('--token', TOKEN)
    try {
      const bare = await fetch(new URL('api/runs', server.url))
      expect(bare.status).toBe(401)
      // The header that makes a browser ask for the token as a password.
      expect(bare.headers.get('www-authenticate')).toMatch(/^Basic realm="errand"/)
      expect(await errorCode(bare)).toBe('unauthorized')
      const wrong = await fetch(new URL('api/runs', server.url), { headers: { authorization: `Bearer ${TOKEN}x` } })
      expect(wrong.status).toBe(401)
      expect((await fetch(new URL('api/runs', server.url), { headers: { authorization: 'Bearer' } })).status).toBe(401)
      // The dashboard is behind the token too.
      expect((await fetch(server.url)).status).toBe(401)

      const bearer = { authorization: `Bearer ${TOKEN}` }
      const listed = await fetch(new URL('api/runs', server.url), { headers: bearer })
      expect(listed.status).toBe(200)
      expect(((await listed.json()) as { runs: Run[] }).runs.map((item) => item.id)).toContain(run.id)
      const basic = { authorization: `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}` }
      expect((await fetch(new URL(`api/runs/${run.id}`, server.url), { headers: basic })).status).toBe(200)

      // A change without the token is refused; with it, it is made.
      expect((await post(server.url, `api/runs/${run.id}/cancel`, { reason: 'no token' })).status).toBe(401)
      expect(await errand.runs.get(run.id)).toMatchObject({ status: 'queued' })
      const cancelled = await post(server.url, `api/runs/${run.id}/cancel`, { reason: 'with token' }, bearer)
      expect(cancelled.status).toBe(200)
      expect(await errand.runs.get(run.id)).toMatchObject({ status: 'cancelled', cancelReason: 'with token' })
      await server.stop()
    } finally {
      server.kill()
    }
    expectFailure(cli(['serve', '-d', db, '--port', '0', '--token', 'short']), 2, /--token must be at least 8 characters/)
  })

  it('--read-only: GET requests are served, every change is refused with 403 and nothing changes', async () => {
    const run = (await tasks.sendEmail.enqueue({ to: 'readonly@example.com' })).run
    const before = await errand.runs.counts()
    // With --tasks the enqueue route exists, so its refusal is the read-only one, not "unknown task".
    const server = await serveWith('--read-only', '--tasks', TASKS)
    try {
      const got = await fetch(new URL(`api/runs/${run.id}`, server.url))
      expect(got.status).toBe(200)
      expect(((await got.json()) as { run: Run }).run).toMatchObject({ id: run.id, status: 'queued' })
      expect((await fetch(new URL('api/runs?status=queued', server.url))).status).toBe(200)

      const cancel = await post(server.url, `api/runs/${run.id}/cancel`, { reason: 'read-only' })
      expect(cancel.status).toBe(403)
      expect(await errorCode(cancel)).toBe('forbidden')
      const bulk = await post(server.url, 'api/runs/cancel', { filter: { task: 'send-email' } })
      expect(bulk.status).toBe(403)
      const enqueue = await post(server.url, 'api/tasks/send-email/runs', { payload: { to: 'new@example.com' } })
      expect(enqueue.status).toBe(403)
      expect(await errorCode(enqueue)).toBe('forbidden')

      expect(await errand.runs.get(run.id)).toMatchObject({ status: 'queued', cancelReason: null })
      expect(await errand.runs.counts()).toEqual(before)
      await server.stop()
    } finally {
      server.kill()
    }
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

  it('cancels and replays many runs in the store', async () => {
    const active = (await errand.runs.list({ task: 'send-email', queue: 'mail', status: ['queued'] })).runs
    expect(active.length).toBeGreaterThan(0)
    const dry = json(cli(['runs', 'cancel-many', '--task', 'send-email', '--queue', 'mail', '--dry-run', '--json', ...base]))
    expect(dry).toMatchObject({ count: active.length, more: false })
    const cancelled = json(cli(['runs', 'cancel-many', '--task', 'send-email', '--queue', 'mail', '--reason', 'pg bulk', '--json', ...base]))
    expect(cancelled).toEqual({ ids: active.map((run) => run.id), skipped: 0, more: false })
    for (const run of active) expect(await errand.runs.get(run.id)).toMatchObject({ status: 'cancelled', cancelReason: 'pg bulk' })
    const replayed = json(cli(['runs', 'replay-many', '--queue', 'mail', '--status', 'cancelled', '--json', ...base]))
    expect(replayed.ids).toHaveLength(seeded.mail.length)
    const replays = await Promise.all(replayed.ids.map((id: string) => errand.runs.get(id)))
    expect(replays.map((run) => run!.replayOf).sort()).toEqual(seeded.mail.map((run) => run.id).sort())
  })

  it('upserts a schedule in the store', async () => {
    const args = ['schedules', 'upsert', 'pg-nightly', '--task', 'report', '--cron', '0 2 * * *', '--tasks', TASKS, ...base]
    expect(cli(args).stdout).toMatch(/^Created schedule pg-nightly\n/)
    expect(json(cli([...args, '--overlap', 'queue', '--json'])).schedule).toMatchObject({ key: 'pg-nightly', overlap: 'queue', enabled: true })
    expect(await errand.schedules.get('pg-nightly')).toMatchObject({ task: 'report', cron: '0 2 * * *', overlap: 'queue' })
    expectFailure(cli(['schedules', 'upsert', 'pg-bad', '--task', 'report', '--cron', '61 * * * *', '--tasks', TASKS, ...base]), 2, /Invalid cron expression/)
    expect(await errand.schedules.get('pg-bad')).toBeNull()
  })
})
