import { afterEach, beforeEach } from 'vitest'
import type { Errand } from '../../src/index.js'
import { serve, type ServedApp, type ServeOptions } from '../../src/http/index.js'
import type { StoreKind } from './stores.js'
import { useErrand } from './errand.js'

export interface HttpAnswer {
  status: number
  body: any
  headers: Headers
  text: string
}

/**
 * A fresh store, errand instance and HTTP server on a free loopback port for each test.
 * `setup` runs before the server starts (register tasks there).
 */
export function useHttp(kind: StoreKind, setup: (errand: Errand) => void, options: ServeOptions = {}) {
  const t = useErrand(kind)
  const state: { served: ServedApp } = {} as never
  beforeEach(async () => {
    setup(t.errand)
    state.served = await serve(t.errand, { port: 0, eventsInterval: '50ms', onError: () => {}, ...options })
  })
  afterEach(async () => {
    await state.served.close()
  })
  return {
    get errand() {
      return t.errand
    },
    another: t.another,
    /** The test's store, to open it from another process. */
    get store() {
      return t.store
    },
    get url() {
      return state.served.url
    },
    /** Sends a request; a body that is not a string is sent as JSON. */
    async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
      const init: RequestInit = { method, headers: { ...headers } }
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body)
        if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
          ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
        }
      }
      const response = await fetch(new URL(path.replace(/^\//, ''), state.served.url), init)
      const text = await response.text()
      let parsed: unknown = null
      try {
        parsed = text ? JSON.parse(text) : null
      } catch {
        parsed = null
      }
      return { status: response.status, body: parsed, headers: response.headers, text }
    },
  }
}
