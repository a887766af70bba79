/**
 * Vitest global setup: gives the test run a real PostgreSQL server.
 *
 * - `DATABASE_URL` set: that server is used as it is (tests create their own schemas in it).
 * - Otherwise a PostgreSQL server (15 preferred) is started from the binaries on this
 *   machine (`ERRAND_PG_BIN`, the Debian paths, then `PATH`) in a throwaway data directory,
 *   on a free loopback port, with trust auth and `fsync` on, once per `vitest run`, and
 *   stopped when the run ends (`ERRAND_KEEP_PG=1` keeps the data directory and its log).
 *   PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
 * - No binaries and no `DATABASE_URL`: under `CI=true` the run fails; on a developer's
 *   machine the postgres store kind is skipped, with a message saying why.
 *
 * The outcome reaches the test files through environment variables, because vitest's
 * `inject` cannot be imported by the child processes that tests start (they open stores
 * too), while environment variables reach both.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import pg from 'pg'

/** The URL of the test database, set by the global setup for test files and their children. */
export const POSTGRES_URL_ENV = 'ERRAND_TEST_POSTGRES_URL'
/** Set instead of the URL when PostgreSQL is not available: why the postgres kind is skipped. */
export const POSTGRES_SKIP_ENV = 'ERRAND_TEST_POSTGRES_SKIP'

const BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/local/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin']
const TEST_DATABASE = 'errand_test'

export interface LocalServer {
  dataDir: string
  binDir: string
}

/** Vitest calls this once before any test file; the function it returns runs after the last. */
export default async function setup(): Promise<() => Promise<void>> {
  delete process.env[POSTGRES_URL_ENV]
  delete process.env[POSTGRES_SKIP_ENV]
  if (process.env.DATABASE_URL) {
    process.env[POSTGRES_URL_ENV] = process.env.DATABASE_URL
    return async () => {}
  }
  const binDir = findBinDir()
  if (!binDir) return unavailable('no PostgreSQL binaries (initdb, pg_ctl, postgres) were found and DATABASE_URL is not set')
  let server: LocalServer
  let url: string
  try {
    ;({ server, url } = await startServer(binDir))
  } catch (error) {
    return unavailable(`PostgreSQL could not be started from ${binDir}: ${(error as Error).message}`)
  }
  const stopOnExit = () => stopServer(server, 'immediate')
  process.once('exit', stopOnExit)
  process.env[POSTGRES_URL_ENV] = url
  return async () => {
    process.off('exit', stopOnExit)
    stopServer(server, 'fast')
  }
}

function unavailable(reason: string): () => Promise<void> {
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI=true: ${reason}`)
  process.env[POSTGRES_SKIP_ENV] = reason
  console.warn(`[errand tests] skipping the postgres store: ${reason}`)
  return async () => {}
}

export function findBinDir(): string | null {
  const fromPath = (process.env.PATH ?? '').split(delimiter)
  const dirs = [process.env.ERRAND_PG_BIN, ...BIN_DIRS, ...fromPath].filter((dir): dir is string => Boolean(dir))
  return dirs.find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((bin) => existsSync(join(dir, bin)))) ?? null
}

/** Runs a PostgreSQL binary, as the `postgres` user when we are root. */
function runAsOwner(binDir: string, bin: string, args: string[]): void {
  const path = join(binDir, bin)
  const asRoot = process.getuid?.() === 0
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args]
  const result = spawnSync(command, argv, { encoding: 'utf8', timeout: 120_000 })
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() || String(result.error ?? 'no output')
    throw new Error(`${bin} ${args[0] ?? ''} failed (exit ${result.status}): ${output}`)
  }
}

export async function startServer(binDir: string): Promise<{ server: LocalServer; url: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'errand-pg-'))
  const server = { dataDir, binDir }
  try {
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
      chownSync(dataDir, uid, gid)
    }
    // --no-sync only skips initdb's final flush of a throwaway template; the server itself runs with fsync on.
    runAsOwner(binDir, 'initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
    // A port found free can be taken before the server binds it: try a few.
    for (let tries = 1; ; tries++) {
      const port = await freePort()
      const options = [
        `-c port=${port}`,
        '-c listen_addresses=127.0.0.1',
        `-c unix_socket_directories=${dataDir}`,
        '-c fsync=on',
        '-c max_connections=300',
      ].join(' ')
      try {
        runAsOwner(binDir, 'pg_ctl', ['start', '-D', dataDir, '-w', '-t', '60', '-l', join(dataDir, 'server.log'), '-o', options])
      } catch (error) {
        if (tries >= 3) throw new Error(`${(error as Error).message}\n${serverLog(dataDir)}`)
        continue
      }
      const url = `postgres://postgres@127.0.0.1:${port}/${TEST_DATABASE}`
      await createTestDatabase(`postgres://postgres@127.0.0.1:${port}/postgres`)
      return { server, url }
    }
  } catch (error) {
    stopServer(server, 'immediate')
    throw error
  }
}

async function createTestDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${TEST_DATABASE}`)
  } finally {
    await client.end()
  }
}

/** Restarts a server this module started (`pg_ctl restart`), waiting until it accepts connections again. */
export function restartServer(server: LocalServer, mode: 'fast' | 'immediate'): void {
  runAsOwner(server.binDir, 'pg_ctl', ['restart', '-D', server.dataDir, '-m', mode, '-w', '-t', '60', '-l', join(server.dataDir, 'server.log')])
}

export function stopServer(server: LocalServer, mode: 'fast' | 'immediate'): void {
  if (existsSync(join(server.dataDir, 'postmaster.pid'))) {
    try {
      runAsOwner(server.binDir, 'pg_ctl', ['stop', '-D', server.dataDir, '-m', mode, '-w', '-t', '30'])
    } catch (error) {
      console.warn(`[errand tests] stopping PostgreSQL: ${(error as Error).message}`)
    }
  }
  if (!process.env.ERRAND_KEEP_PG) rmSync(server.dataDir, { recursive: true, force: true })
}

function serverLog(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, 'server.log'), 'utf8').slice(-2000)
  } catch {
    return ''
  }
}

/** A TCP port on the loopback interface that nothing listens on now (the bench's Redis uses it too). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}
