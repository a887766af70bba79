/**
 * For measurement children: loads only the measured system's module, so a worker's memory
 * holds its own library and driver, not every peer's (systems/index.ts imports them all).
 */
import type { SystemDef } from './system.js'

const MODULES: Record<string, () => Promise<SystemDef>> = {
  'errand (PostgreSQL)': async () => (await import('./errand.js')).errandPostgres,
  'errand (SQLite)': async () => (await import('./errand.js')).errandSqlite,
  'graphile-worker': async () => (await import('./graphile.js')).graphileWorker,
  'pg-boss': async () => (await import('./pgboss.js')).pgBoss,
  'BullMQ (Redis)': async () => (await import('./bullmq.js')).bullmq,
}

export async function loadSystem(name: string): Promise<SystemDef> {
  const load = MODULES[name]
  if (!load) throw new Error(`unknown system ${name}`)
  const system = await load()
  if (system.name !== name) throw new Error(`systems/load.ts maps ${name} to ${system.name}`)
  return system
}
