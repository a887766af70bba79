import { Hono, type Context } from 'hono'
import { routePath } from 'hono/route'
import { parseDuration, type Duration, type Errand } from '../index.js'
import { errorResponseOf, HttpError } from './errors.js'
import { openApiDocument } from './openapi.js'
import { parseInputs, type RouteOptions, type RouteSpec } from './route.js'
import { metaRoutes } from './routes-meta.js'
import { runRoutes } from './routes-runs.js'
import { authMiddleware, csrfMiddleware, principalOf, type AuthHook } from './security.js'
import { DASHBOARD_HEADERS, loadDashboard, type StaticAsset } from './static.js'

/** Options of {@link createHttpApp}. */
export interface HttpAppOptions {
  /**
   * Decides who may use the API and the dashboard; see {@link AuthHook}. Default: everyone.
   * `serve` refuses to listen beyond loopback without one (unless `insecure`).
   */
  auth?: AuthHook
  /** Refuse every change (enqueue, cancel, replay) to everyone. Default false. */
  readOnly?: boolean
  /** Origins besides the app's own that may send changes (a dashboard behind another host name). Default none. */
  allowedOrigins?: string[]
  /** Largest request body, in bytes. Default 1 MiB. */
  bodyLimit?: number
  /** Serve the dashboard at the root. Default true. */
  dashboard?: boolean
  /** Serve under this path (`'/errand'`) when the app is the whole server. Not needed with `app.route()`. */
  basePath?: string
  /** How often the event stream checks the store for changed runs. Default `'500ms'`. */
  eventsInterval?: Duration
  /** Errors that became a 500, and errors of the event stream's store polling. Default: `console.error`. */
  onError?: (error: unknown) => void
}

const ALL_ROUTES: RouteSpec[] = [...metaRoutes, ...runRoutes]

/**
 * The HTTP API and the dashboard of an errand instance, as a Hono app. Mount it in your Hono
 * app (`app.route('/errand', createHttpApp(errand))`), hand its `fetch` to any Fetch-style
 * server, or serve it on Node with {@link serve} / {@link createNodeHandler}.
 *
 * The API lives under `api/`, the OpenAPI document at `openapi.json`, the dashboard at `/`.
 */
export function createHttpApp(errand: Errand, options: HttpAppOptions = {}): Hono {
  const routeOptions: RouteOptions = {
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    eventsIntervalMs: parseDuration(options.eventsInterval ?? '500ms'),
    onError: options.onError ?? ((error) => console.error('[errand http]', error)),
  }
  const app = options.basePath ? new Hono().basePath(options.basePath) : new Hono()
  app.onError((error, c) => {
    const { status, body, headers } = errorResponseOf(error)
    if (status >= 500) routeOptions.onError(error)
    return c.json(body, status as 500, headers)
  })
  app.notFound((c) => notFound(c, options.basePath ?? ''))
  app.use('*', authMiddleware(options.auth, options.readOnly === true), csrfMiddleware(options.allowedOrigins ?? []))
  for (const route of ALL_ROUTES) {
    app.on(route.method, route.path, async (c) => {
      const inputs = await parseInputs(route, c, routeOptions.bodyLimit)
      return route.handle({ errand, ...inputs, principal: principalOf(c), hono: c, options: routeOptions })
    })
  }
  const document = openApiDocument(ALL_ROUTES)
  app.get('/openapi.json', (c) => c.json(document))
  if (options.dashboard !== false) mountDashboard(app, loadDashboard(), options.basePath ?? '')
  return app
}

function mountDashboard(app: Hono, assets: Map<string, StaticAsset>, basePath: string): void {
  const send = (c: Context, asset: StaticAsset | undefined) => {
    if (!asset) throw new HttpError(404, 'not_found', 'No such file')
    const headers: Record<string, string> = { ...DASHBOARD_HEADERS, 'content-type': asset.type, etag: asset.etag, vary: 'accept-encoding' }
    if (c.req.header('if-none-match') === asset.etag) return new Response(null, { status: 304, headers })
    if (!/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) return new Response(asset.body, { status: 200, headers })
    return new Response(asset.gzipped, { status: 200, headers: { ...headers, 'content-encoding': 'gzip' } })
  }
  // One catch-all, because a parent app with strict routing sends `/mount/` to no `/` route.
  // The mount path comes from the matched pattern (`/mount/*`), wherever the app is mounted.
  app.get('/*', (c) => {
    const prefix = routePath(c).replace(/\/?\*$/, '')
    const rest = c.req.path.slice(prefix.length)
    // The dashboard loads its files by relative URLs, which resolve under the mount path only with a trailing slash.
    if (rest === '') return c.redirect(`${c.req.path}/${new URL(c.req.url).search}`, 308)
    if (rest === '/') return send(c, assets.get('index.html'))
    const name = rest.slice(1)
    if (name.includes('/')) return notFound(c, prefix || basePath)
    return send(c, assets.get(name))
  })
}

/** Unknown path: 404; known path, other method: 405 with `Allow`. Always JSON. */
function notFound(c: Context, basePath: string): Response {
  const path = c.req.path.slice(basePath.length) || '/'
  const allowed = ALL_ROUTES.filter((route) => patternOf(route.path).test(path)).map((route) => route.method)
  if (allowed.length > 0) {
    const { body } = errorResponseOf(new HttpError(405, 'method_not_allowed', `${c.req.method} is not allowed here; use ${allowed.join(', ')}`))
    return c.json(body, 405, { allow: allowed.join(', ') })
  }
  return c.json(errorResponseOf(new HttpError(404, 'not_found', `No route ${c.req.method} ${path}`)).body, 404)
}

const patterns = new Map<string, RegExp>()
function patternOf(path: string): RegExp {
  let pattern = patterns.get(path)
  if (!pattern) {
    pattern = new RegExp(`^${path.replace(/:\w+/g, '[^/]+')}/?$`)
    patterns.set(path, pattern)
  }
  return pattern
}
