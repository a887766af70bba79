/**
 * The stores every behavioural test runs against. Tests iterate `storeKinds()` with
 * `describe.each`, so one suite covers every driver.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StoreDriver } from '../../src/storage/driver.js'
import { sqliteStore } from '../../src/storage/sqlite/index.js'

/** Enough to open the same store from another process. */
export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; connectionString: string; schema: string }

/** A fresh, empty store for one test, and how to throw it away. */
export interface TestStore {
  spec: StoreSpec
  /** Opens a new driver on this store (each call a new connection / handle). */
  open(): StoreDriver
  cleanup(): Promise<void>
}

export interface StoreKind {
  name: StoreSpec['kind']
  create(): Promise<TestStore>
}

/** Opens a driver from a spec; child processes use it too. */
export function openStore(spec: StoreSpec): StoreDriver {
  if (spec.kind === 'sqlite') return sqliteStore({ path: spec.path })
  throw new Error(`Store kind ${spec.kind} is not available in this build`)
}

const sqliteKind: StoreKind = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'errand-test-'))
    const spec: StoreSpec = { kind: 'sqlite', path: join(dir, 'errand.db') }
    return {
      spec,
      open: () => openStore(spec),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    }
  },
}

/** Every store kind available to this test run. */
export function storeKinds(): StoreKind[] {
  return [sqliteKind]
}
