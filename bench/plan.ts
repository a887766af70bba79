import type { ScenarioGroup } from './config.js'
import type { JobResult } from './jobs.js'

/** One scenario on one target, ready to be measured once per repetition. */
export interface ScenarioPlan {
  group: ScenarioGroup
  /** Stable key of the scenario, the same on every target. */
  scenario: string
  target: string
  label: string
  /** Measures one repetition, on a fresh store under `dir`. */
  measure(dir: string): Promise<JobResult>
}
