import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getRequestListener, serve as serveNode } from '@hono/node-server'
import type { Hono } from 'hono'
import { InvalidOptionError, type Errand } from '../index.js'
import { createHttpApp, type HttpAppOptions } from './app.js'

/** Options of {@link serve}: those of the app, and where to listen. */
export interface ServeOptions extends HttpAppOptions {
  /** Default 4680. 0 picks a free port. */
  port?: number
  /** Default `'127.0.0.1'`: reachable from this machine only. */
  hostname?: string
  /**
   * Listen beyond loopback without an `auth` hook. Anyone who can reach the port could then
   * read payloads and cancel or replay runs. Default false.
   */
  insecure?: boolean
}

/** A running server. */
export interface ServedApp {
  /** Where the dashboard is, e.g. `http://127.0.0.1:4680/`. */
  url: string
  port: number
  server: Server
  /** Stops accepting connections and closes open ones (event streams included). */
  close(): Promise<void>
}

/** Whether a host name only ever reaches this machine. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/**
 * Serves the API and the dashboard on Node's `http`. Binds to 127.0.0.1 unless told
 * otherwise, and refuses a non-loopback address without an `auth` hook unless `insecure`.
 * @example
 * const { url } = await serve(errand, { port: 4680 })
 */
export async function serve(errand: Errand, options: ServeOptions = {}): Promise<ServedApp> {
  const hostname = options.hostname ?? '127.0.0.1'
  if (!isLoopback(hostname) && !options.auth && !options.insecure) {
    throw new InvalidOptionError(
      `Refusing to serve errand on ${hostname} without an auth hook: anyone who reaches it could read and change runs. Pass auth, or insecure: true`,
    )
  }
  const app = createHttpApp(errand, options)
  const server = await new Promise<Server>((resolve, reject) => {
    const created = serveNode({ fetch: app.fetch, port: options.port ?? 4680, hostname }, () => resolve(created as Server)) as Server
    created.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  const shown = hostname.includes(':') ? `[${hostname}]` : hostname
  return {
    url: `http://${shown}:${port}${options.basePath ?? ''}/`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      }),
  }
}

/**
 * A Node request listener for the app: `http.createServer(handler)`, or Express
 * (`expressApp.use('/errand', handler)`, before any body parser). Under Express the mount
 * path is taken from `req.originalUrl`, so the dashboard's bare mount URL redirects to its
 * slash form as it does elsewhere.
 */
export function createNodeHandler(app: Hono): (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => Promise<void> {
  const listener = getRequestListener(app.fetch)
  return async (req, res) => {
    const original = req.originalUrl?.split('?')[0]
    if (original && req.url?.split('?')[0] === '/' && !original.endsWith('/')) {
      res.writeHead(308, { location: `${original}/` }).end()
      return
    }
    await listener(req, res)
  }
}
