/** `errand serve`: the HTTP API and the dashboard over the database, without a worker. */
import { timingSafeEqual } from 'node:crypto'
import type { AuthHook, ServeOptions } from '../../http/index.js'
import { integerOption, stringOption, UsageError, type OptionValues } from '../args.js'
import type { Command } from '../command.js'
import { registerTasksFrom, TASKS_OPTION } from '../tasks.js'

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve the HTTP API and the dashboard over the database (no worker runs here)',
  positionals: { min: 0, max: 0 },
  options: {
    port: { type: 'string', value: 'N', description: 'Default 4680; 0 picks a free port' },
    host: { type: 'string', value: 'HOST', description: 'Default 127.0.0.1 (this machine only)' },
    token: { type: 'string', value: 'TOKEN', description: 'Require this token (Bearer, or as the password of HTTP basic auth). Default $ERRAND_TOKEN' },
    'read-only': { type: 'boolean', description: 'Refuse every change (enqueue, cancel, replay)' },
    insecure: { type: 'boolean', description: 'Allow a non-loopback --host without a token' },
    'allowed-origin': { type: 'string', multiple: true, value: 'ORIGIN', description: 'Another origin that may send changes (repeatable)' },
    'base-path': { type: 'string', value: 'PATH', description: "Serve under this path, e.g. /errand" },
    'no-dashboard': { type: 'boolean', description: 'Serve the API only' },
    ...TASKS_OPTION,
  },
  examples: ['errand serve', 'errand serve --port 8080 --tasks ./dist/tasks.js', 'ERRAND_TOKEN=s3cret errand serve --host 0.0.0.0'],
  notes: [
    'Runs until SIGINT (Ctrl+C) or SIGTERM. No worker runs here: runs are executed by your workers. Without --tasks the API can read, cancel and replay runs but not enqueue.',
    'Beyond loopback errand refuses to listen without --token (or --insecure). A browser asks for the token as the password of a basic-auth prompt (any user name).',
  ],
  async run({ values, env, open, out, signal }) {
    const options = serveOptionsOf(values, env)
    // Loaded here: the HTTP stack (hono, zod) is most of the command's start-up time, and only serve needs it.
    const { isLoopback, serve } = await import('../../http/index.js')
    if (!isLoopback(options.hostname as string) && !options.auth && !options.insecure) {
      throw new UsageError(`refusing to serve on ${options.hostname} without --token: anyone who reaches it could read and change runs (--insecure if you mean it)`)
    }
    const tasksModule = stringOption(values, 'tasks')
    const errand = await open()
    if (tasksModule !== undefined) await registerTasksFrom(errand, tasksModule)
    // Migrate before listening, so a database problem shows here rather than on the first request.
    await errand.migrate()
    const web = await serve(errand, options)
    out(`errand serving ${web.url} (API at ${web.url}api/, Ctrl+C to stop)`)
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))
    await web.close()
    return 0
  },
}

function serveOptionsOf(values: OptionValues, env: NodeJS.ProcessEnv): ServeOptions {
  const token = stringOption(values, 'token') ?? (env.ERRAND_TOKEN || undefined)
  if (token !== undefined && token.length < 8) throw new UsageError('--token must be at least 8 characters')
  const basePath = stringOption(values, 'base-path')
  if (basePath !== undefined && !/^\/[\w\-./]*[^/]$/.test(basePath)) throw new UsageError('--base-path must start with / and not end with one, e.g. /errand')
  const origins = values['allowed-origin']
  return {
    port: integerOption(values, 'port', 0, 65_535) ?? 4680,
    hostname: stringOption(values, 'host') ?? '127.0.0.1',
    auth: token === undefined ? undefined : tokenAuth(token),
    readOnly: values['read-only'] === true,
    insecure: values.insecure === true,
    allowedOrigins: Array.isArray(origins) ? origins : [],
    basePath,
    dashboard: values['no-dashboard'] !== true,
  }
}

/**
 * Accepts `Authorization: Bearer <token>` (scripts) or basic auth with the token as password
 * (browsers: the dashboard's own requests then carry it). Anything else gets a 401 that makes
 * a browser ask.
 */
export function tokenAuth(token: string): AuthHook {
  const expected = Buffer.from(token)
  const matches = (given: string) => {
    const buffer = Buffer.from(given)
    // Constant time, so the answer's timing tells nothing about how much of a guess was right.
    return buffer.length === expected.length && timingSafeEqual(buffer, expected)
  }
  return (request) => {
    const header = request.headers.get('authorization') ?? ''
    const [scheme, credentials = ''] = header.split(' ', 2)
    if (scheme?.toLowerCase() === 'bearer' && matches(credentials)) return true
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8')
      if (matches(decoded.slice(decoded.indexOf(':') + 1))) return true
    }
    return new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'Authentication required', details: null } }), {
      status: 401,
      headers: { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="errand", charset="UTF-8"' },
    })
  }
}
