import { request as httpRequest, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTask, type Errand } from '../src/index.js'
import { createHttpApp, createNodeHandler, isLoopback, serve } from '../src/http/index.js'
import { useErrand } from './support/errand.js'
import { useHttp } from './support/http.js'
import { storeKinds } from './support/stores.js'

const greet = defineTask({ name: 'greet', input: z.object({ name: z.string() }), run: async (p) => p.name })
const register = (errand: Errand) => void errand.register({ greet })
const enqueue = { payload: { name: 'x' } }

/** A raw request, so paths reach the server exactly as written (fetch would normalise `..`). */
function raw(url: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'GET' }, (res) => {
      let body = ''
      res.on('data', (chunk) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe.each(storeKinds())('HTTP API limits and errors on $name', (kind) => {
  const t = useHttp(kind, register, { bodyLimit: 64 * 1024 })
  const total = async () => (await t.errand.runs.counts()).total

  it('refuses malformed, oversized and non-JSON bodies with 4xx, writing nothing', async () => {
    const cases: Array<[string | object, Record<string, string>, number, string]> = [
      ['{"payload": ', {}, 400, 'invalid_json'],
      ['[1,2', {}, 400, 'invalid_json'],
      ['null', {}, 400, 'validation_failed'],
      ['"text"', {}, 400, 'validation_failed'],
      [{ payload: { name: 'x'.repeat(70 * 1024) } }, {}, 413, 'payload_too_large'],
      ['name=x', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
      ['{"payload":{"name":"x"}}', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
      [{ payload: { name: 'x', __proto__: { admin: true } } }, {}, 201, ''],
    ]
    for (const [body, headers, status, code] of cases) {
      const answer = await t.call('POST', '/api/tasks/greet/runs', body, headers)
      expect(answer.status, JSON.stringify(body).slice(0, 60)).toBe(status)
      if (code) expect(answer.body.error.code).toBe(code)
    }
    expect(await total()).toBe(1)
    // Deep nesting is refused by the payload check, not by a crash.
    const deep = `{"payload":${'['.repeat(5_000)}${']'.repeat(5_000)}}`
    expect((await t.call('POST', '/api/tasks/greet/runs', deep)).status).toBe(400)
    expect(await total()).toBe(1)
  })

  it('stores lone surrogates, NUL and far-future times, and refuses NaN, negative delays and unknown tasks', async () => {
    const odd = await t.call('POST', '/api/tasks/greet/runs', '{"payload":{"name":"\\ud800 and \\u0000"},"options":{"runAt":"9999-12-31T00:00:00Z"}}')
    expect(odd.status).toBe(201)
    const detail = await t.call('GET', `/api/runs/${odd.body.run.id}`)
    expect(detail.status).toBe(200)
    expect(detail.body.run.payload.name).toBe('\ud800 and \u0000')
    expect((await t.call('POST', '/api/tasks/greet/runs', '{"payload":{"name":NaN}}')).body.error.code).toBe('invalid_json')
    expect((await t.call('POST', '/api/tasks/greet/runs', '{"payload":{"name":"x"},"options":{"delay":1e400}}')).status).toBe(400)
    expect((await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'x' }, options: { delay: -1 } })).status).toBe(400)
    expect((await t.call('POST', '/api/tasks/greet/runs', { payload: { name: 'x' }, options: { runAt: 'never' } })).status).toBe(400)
    expect((await t.call('POST', `/api/tasks/${encodeURIComponent('<script>')}/runs`, enqueue)).body.error.code).toBe('unknown_task')
    expect(await total()).toBe(1)
  })

  it('answers unknown routes with 404, wrong methods with 405 and Allow, always in JSON', async () => {
    const unknown = await t.call('GET', '/api/nothing')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('not_found')
    const wrong = await t.call('DELETE', '/api/runs/abc')
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('GET')
    expect((await t.call('PUT', '/api/tasks/greet/runs', enqueue)).status).toBe(405)
    expect((await t.call('GET', '/api/runs/cancel')).status).toBe(404)
  })

  it('serves the dashboard with a strict content policy, and no path escapes it', async () => {
    const index = await t.call('GET', '/')
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toMatch(/text\/html/)
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
    expect(index.text).toMatch(/<script type="module" src="app.js">/)
    expect((await t.call('GET', '/app.js')).headers.get('content-type')).toMatch(/javascript/)
    for (const path of ['/../package.json', '/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd', '/app.js%00.html', '/dashboard/../../package.json', '/.%2e/src/index.ts', '/%5c..%5cpackage.json', '//etc/passwd']) {
      const answer = await raw(t.url, path)
      expect(answer.status, path).toBeGreaterThanOrEqual(400)
      expect(answer.status, path).toBeLessThan(500)
      expect(answer.body, path).not.toMatch(/"name": "errand"|root:|createErrand/)
    }
  })

  it('never answers 5xx to random requests (fuzz)', async () => {
    const value = fc.jsonValue({ maxDepth: 4 })
    const bodies = fc.oneof(
      fc.record({ payload: value, options: fc.dictionary(fc.constantFrom('delay', 'runAt', 'priority', 'maxAttempts', 'timeout', 'idempotencyKey', 'metadata', 'retry', 'colour', '__proto__'), value) }, { requiredKeys: [] }),
      value,
      fc.string().map((text) => ({ raw: text })),
    )
    const paths = fc.constantFrom('/api/tasks/greet/runs', '/api/tasks/nope/runs', '/api/runs/cancel', '/api/runs/replay', '/api/runs/abc/cancel', '/api/runs/abc/replay')
    await fc.assert(
      fc.asyncProperty(paths, bodies, async (path, body) => {
        const text = typeof body === 'object' && body !== null && 'raw' in body ? String(body.raw) : JSON.stringify(body)
        const answer = await t.call('POST', path, text)
        expect(answer.status).toBeLessThan(500)
        expect(answer.body === null || typeof answer.body === 'object').toBe(true)
      }),
      { numRuns: 150 },
    )
    const queries = fc.dictionary(fc.constantFrom('task', 'status', 'queue', 'limit', 'cursor', 'createdFrom', 'createdBefore', 'x'), fc.string({ maxLength: 40 }))
    await fc.assert(
      fc.asyncProperty(queries, async (query) => {
        const answer = await t.call('GET', `/api/runs?${new URLSearchParams(query)}`)
        expect(answer.status).toBeLessThan(500)
      }),
      { numRuns: 100 },
    )
  })
})

describe.each(storeKinds())('HTTP auth and CSRF on $name', (kind) => {
  const t = useHttp(kind, register, {
    auth: (request) => {
      const key = request.headers.get('x-key')
      if (key === 'admin') return { id: 'admin' }
      if (key === 'viewer') return { id: 'viewer', readOnly: true }
      if (key === 'login') return new Response('go log in', { status: 302, headers: { location: '/login' } })
      return false
    },
    allowedOrigins: ['https://ops.example.com'],
  })
  const total = async () => (await t.errand.runs.counts()).total

  it('denies requests the hook refuses, on every route and the dashboard', async () => {
    for (const [method, path] of [['GET', '/api/runs'], ['GET', '/api/counts'], ['GET', '/'], ['GET', '/app.js'], ['POST', '/api/tasks/greet/runs'], ['GET', '/api/events']]) {
      const answer = await t.call(method as string, path as string, method === 'POST' ? enqueue : undefined)
      expect(answer.status, path).toBe(401)
      if (path !== '/' && path !== '/app.js') expect(answer.body.error.code).toBe('unauthorized')
    }
    const redirected = await fetch(new URL('api/runs', t.url), { headers: { 'x-key': 'login' }, redirect: 'manual' })
    expect(redirected.status).toBe(302)
    expect(await total()).toBe(0)
  })

  it('lets read-only principals look but not act', async () => {
    const viewer = { 'x-key': 'viewer' }
    expect((await t.call('GET', '/api/runs', undefined, viewer)).status).toBe(200)
    expect((await t.call('GET', '/', undefined, viewer)).status).toBe(200)
    const refused = await t.call('POST', '/api/tasks/greet/runs', enqueue, viewer)
    expect(refused.status).toBe(403)
    expect(refused.body.error.code).toBe('forbidden')
    const created = await t.call('POST', '/api/tasks/greet/runs', enqueue, { 'x-key': 'admin' })
    expect(created.status).toBe(201)
    expect((await t.call('POST', `/api/runs/${created.body.run.id}/cancel`, {}, viewer)).status).toBe(403)
    expect((await t.call('POST', '/api/runs/cancel', { filter: { task: 'greet' } }, viewer)).status).toBe(403)
    expect((await t.errand.runs.get(created.body.run.id))?.status).toBe('queued')
  })

  it('refuses changes from other origins, allows listed ones', async () => {
    const admin = { 'x-key': 'admin' }
    const evil = await t.call('POST', '/api/tasks/greet/runs', enqueue, { ...admin, origin: 'https://evil.example' })
    expect(evil.status).toBe(403)
    expect(evil.body.error.code).toBe('cross_origin')
    expect((await t.call('POST', '/api/tasks/greet/runs', enqueue, { ...admin, 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    // A form post, the classic CSRF vector, is refused for its content type even from a same-site page.
    expect((await t.call('POST', '/api/tasks/greet/runs', 'payload=x', { ...admin, 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415)
    expect(await total()).toBe(0)
    const own = new URL(t.url).origin
    expect((await t.call('POST', '/api/tasks/greet/runs', enqueue, { ...admin, origin: own })).status).toBe(201)
    expect((await t.call('POST', '/api/tasks/greet/runs', enqueue, { ...admin, origin: 'https://ops.example.com' })).status).toBe(201)
    expect((await t.call('GET', '/api/runs', undefined, { ...admin, origin: 'https://evil.example' })).status).toBe(200)
  })
})

describe('mounting and serving', () => {
  const t = useErrand(storeKinds()[0]!)

  it('mounts under a path in a Hono app, redirecting the bare path to its slash form', async () => {
    register(t.errand)
    const app = new Hono()
    app.get('/', (c) => c.text('my app'))
    app.route('/errand', createHttpApp(t.errand))
    const bare = await app.request('/errand')
    expect(bare.status).toBe(308)
    expect(bare.headers.get('location')).toBe('/errand/')
    expect((await app.request('/errand/')).status).toBe(200)
    expect(await (await app.request('/errand/api/tasks')).json()).toMatchObject({ tasks: [{ name: 'greet' }] })
    expect(await (await app.request('/')).text()).toBe('my app')
    const document = (await (await app.request('/errand/openapi.json')).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/api/runs', '/api/runs/{id}', '/api/tasks/{task}/runs', '/api/events']))
  })

  it('answers through the fetch handler, a base path, and a Node server with an Express-style mount', async () => {
    register(t.errand)
    const based = createHttpApp(t.errand, { basePath: '/jobs' })
    expect((await based.fetch(new Request('http://x/jobs/api/counts'))).status).toBe(200)
    expect((await based.fetch(new Request('http://x/api/counts'))).status).toBe(404)
    const handler = createNodeHandler(createHttpApp(t.errand))
    // What Express does under app.use('/errand', handler): strips the mount from req.url, keeps originalUrl.
    const server = createServer((req, res) => {
      const original = req.url ?? '/'
      if (!original.startsWith('/errand')) return void res.writeHead(404).end()
      Object.assign(req, { originalUrl: original, url: original.slice('/errand'.length) || '/' })
      void handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const bare = await fetch(`${base}/errand`, { redirect: 'manual' })
      expect(bare.status).toBe(308)
      expect(bare.headers.get('location')).toBe('/errand/')
      expect((await fetch(`${base}/errand/`)).status).toBe(200)
      expect(((await (await fetch(`${base}/errand/api/tasks`)).json()) as { tasks: unknown[] }).tasks).toHaveLength(1)
    } finally {
      server.close()
      server.closeAllConnections()
    }
  })

  it('serve binds to loopback by default and refuses other addresses without auth', async () => {
    register(t.errand)
    const served = await serve(t.errand, { port: 0 })
    try {
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
      expect((served.server.address() as AddressInfo).address).toBe('127.0.0.1')
    } finally {
      await served.close()
    }
    await expect(serve(t.errand, { port: 0, hostname: '0.0.0.0' })).rejects.toThrow(/without an auth hook/)
    await expect(serve(t.errand, { port: 0, hostname: '192.0.2.1' })).rejects.toMatchObject({ code: 'invalid_option' })
    expect(['127.0.0.1', '127.5.0.1', 'localhost', '::1', '[::1]'].every(isLoopback)).toBe(true)
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.com', '128.0.0.1'].some(isLoopback)).toBe(false)
  })
})
