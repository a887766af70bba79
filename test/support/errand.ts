import { afterEach, beforeEach } from 'vitest'
import { Errand, type ErrandOptions } from '../../src/index.js'
import type { ErrandEventName, ErrandEvents } from '../../src/runtime/events.js'
import type { StoreKind, TestStore } from './stores.js'

/** A fresh store and errand instance for each test of a `describe` block. */
export function useErrand(kind: StoreKind, options: Omit<ErrandOptions, 'store'> = {}) {
  const state: { errand: Errand; store: TestStore; extra: Errand[] } = {} as never
  beforeEach(async () => {
    state.store = await kind.create()
    state.errand = new Errand({ ...options, store: state.store.open() })
    state.extra = []
  })
  afterEach(async () => {
    await Promise.all([state.errand, ...state.extra].map((e) => e.close({ timeout: '2s' })))
    await state.store.cleanup()
  })
  return {
    get errand() {
      return state.errand
    },
    get store() {
      return state.store
    },
    /** Another errand instance on the same store, as another process would have. */
    another(extraOptions: Omit<ErrandOptions, 'store'> = {}): Errand {
      const errand = new Errand({ ...options, ...extraOptions, store: state.store.open() })
      state.extra.push(errand)
      return errand
    },
  }
}

/** Resolves with the first event that matches, or rejects after `timeoutMs`. */
export function nextEvent<E extends ErrandEventName>(
  errand: Errand,
  event: E,
  predicate: (payload: ErrandEvents[E]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<ErrandEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`no ${event} within ${timeoutMs}ms`))), timeoutMs)
    const off = errand.on(event, (payload) => {
      if (!predicate(payload)) return
      clearTimeout(timer)
      off()
      resolve(payload)
    })
  })
}

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitUntil<T>(check: () => Promise<T> | T, timeoutMs = 10_000, label = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A promise with its resolve function, for handlers that tests release by hand. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}
