import { bullmq } from './bullmq.js'
import { errandPostgres, errandSqlite } from './errand.js'
import { graphileWorker } from './graphile.js'
import { pgBoss } from './pgboss.js'
import type { SystemDef } from './system.js'

export const SYSTEMS: readonly SystemDef[] = [errandPostgres, errandSqlite, graphileWorker, pgBoss, bullmq]

export function findSystem(name: string): SystemDef {
  const system = SYSTEMS.find((s) => s.name === name)
  if (!system) throw new Error(`unknown system ${name}`)
  return system
}
