import type { MiddlewareHandler } from 'hono'
import { HttpError } from './errors.js'

/** Who is calling, as the `auth` hook describes them. `readOnly` principals may look but not act. */
export interface Principal {
  /** For your own logs. */
  id?: string
  /** When true, every request that changes something is refused with 403. */
  readOnly?: boolean
  [key: string]: unknown
}

/**
 * What the `auth` hook answers for a request:
 * - `true`: allowed, with full access;
 * - `false`, `null` or `undefined`: denied (401);
 * - a {@link Principal}: allowed as that principal (read-only if it says so);
 * - a `Response`: sent as it is (a redirect to your login page, a 401 with `WWW-Authenticate`...).
 */
export type AuthResult = boolean | null | undefined | Principal | Response

/** Decides who may use the API and dashboard. Called once per request, before anything else. */
export type AuthHook = (request: Request) => AuthResult | Promise<AuthResult>

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Runs the auth hook and keeps the principal on the context. Read-only principals get 403 on changes. */
export function authMiddleware(auth: AuthHook | undefined, readOnly: boolean): MiddlewareHandler {
  return async (c, next) => {
    let principal: Principal = readOnly ? { readOnly: true } : {}
    if (auth) {
      const result = await auth(c.req.raw)
      if (result instanceof Response) return result
      if (result === false || result === null || result === undefined) {
        throw new HttpError(401, 'unauthorized', 'Authentication required')
      }
      if (typeof result === 'object') principal = { ...result, readOnly: readOnly || result.readOnly === true }
    }
    if (principal.readOnly && !SAFE_METHODS.has(c.req.method)) {
      throw new HttpError(403, 'forbidden', 'This principal may read but not change runs')
    }
    c.set('errandPrincipal' as never, principal as never)
    await next()
  }
}

/**
 * Cross-site request forgery: a page on another site can make a browser send a form POST
 * with the user's cookies, but not a JSON one (that needs a CORS preflight, which we never
 * grant). So every request that changes something must carry `Content-Type:
 * application/json` (checked where the body is read), and when the browser says where it
 * comes from (`Origin`, `Sec-Fetch-Site`), that must be this site or an allowed origin.
 */
export function csrfMiddleware(allowedOrigins: string[]): MiddlewareHandler {
  const allowed = new Set(allowedOrigins.map((origin) => origin.toLowerCase()))
  return async (c, next) => {
    if (!SAFE_METHODS.has(c.req.method)) {
      const origin = c.req.header('origin')
      const own = new URL(c.req.url).origin.toLowerCase()
      if (origin !== undefined && origin.toLowerCase() !== own && !allowed.has(origin.toLowerCase())) {
        throw new HttpError(403, 'cross_origin', `Requests from ${origin} may not change runs`)
      }
      if (origin === undefined && c.req.header('sec-fetch-site') === 'cross-site') {
        throw new HttpError(403, 'cross_origin', 'Cross-site requests may not change runs')
      }
    }
    await next()
  }
}

/** The principal the auth hook admitted for this request. */
export function principalOf(c: { get(key: never): unknown }): Principal {
  return (c.get('errandPrincipal' as never) as Principal | undefined) ?? {}
}
