import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

/** One file of the dashboard, held in memory. */
export interface StaticAsset {
  body: Uint8Array
  /** The same bytes gzipped once at load, sent to clients that accept gzip. */
  gzipped: Uint8Array
  type: string
  etag: string
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
}

/**
 * The dashboard's files, read once into memory by name. Requests are answered from this map
 * only, by exact name, so no path a client sends (`..`, encoded slashes, NUL) can reach the
 * file system. The files sit beside this module: src/dashboard in development,
 * dist/dashboard once built.
 */
export function loadDashboard(dir = fileURLToPath(new URL('../dashboard/', import.meta.url))): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>()
  if (!existsSync(dir)) return assets
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)]
    const path = join(dir, name)
    if (!type || !statSync(path).isFile()) continue
    const body = readFileSync(path)
    assets.set(name, { body, gzipped: gzipSync(body, { level: 9 }), type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` })
  }
  return assets
}

/**
 * Headers of every dashboard response. The policy allows scripts and styles from this
 * origin only, and no inline script: even a payload that slipped past the dashboard's
 * escaping could not run.
 */
export const DASHBOARD_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}
