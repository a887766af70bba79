import type { PeersConfig } from './config.js'
import type { Plan } from './run.js'
export function rawPlans(_config: PeersConfig): Plan[] {
  return []
}
