/** What the durable-steps crash test and its worker process share. */
export const STEPS_TASK = 'five-steps'
export const STEP_COUNT = 5

/** One line of a steps worker's ledger. */
export interface StepLedgerEntry {
  runId: string
  step: number
  attempt: number
  pid: number
  event: 'body-start' | 'body-end' | 'saved'
  at: number
}
