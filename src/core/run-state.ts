import { InvalidTransitionError } from './errors.js'

/**
 * Where a run is in its life.
 * - `scheduled`: waiting for its time (a first run, or a retry's wait)
 * - `queued`: due, waiting for a worker
 * - `running`: a worker holds its lease
 * - `completed`, `cancelled`, `dead_lettered`: final
 */
export type RunStatus = 'scheduled' | 'queued' | 'running' | 'completed' | 'cancelled' | 'dead_lettered'

export const RUN_STATUSES: readonly RunStatus[] = ['scheduled', 'queued', 'running', 'completed', 'cancelled', 'dead_lettered']

/** What can happen to a run. Every status change in errand is one of these. */
export type RunEvent =
  | 'promote' // its time came
  | 'claim' // a worker took it
  | 'complete' // the handler returned
  | 'retry' // the attempt failed, attempts remain: wait
  | 'sleep' // a durable sleep: wait without failing
  | 'dead_letter' // attempts used up, or non-retryable
  | 'cancel' // a user cancelled it
  | 'release' // its worker shut down before it finished
  | 'rescue' // its worker vanished (lease expired)

/** The one transition table: for each event, the statuses it may start from and where it goes. */
export const TRANSITIONS: Readonly<Record<RunEvent, { from: readonly RunStatus[]; to: RunStatus }>> = {
  promote: { from: ['scheduled'], to: 'queued' },
  claim: { from: ['scheduled', 'queued'], to: 'running' },
  complete: { from: ['running'], to: 'completed' },
  retry: { from: ['running'], to: 'scheduled' },
  sleep: { from: ['running'], to: 'scheduled' },
  dead_letter: { from: ['running'], to: 'dead_lettered' },
  cancel: { from: ['scheduled', 'queued', 'running'], to: 'cancelled' },
  release: { from: ['running'], to: 'queued' },
  rescue: { from: ['running'], to: 'queued' },
}

/** Final statuses: nothing moves a run out of them (a replay makes a new run). */
export const FINAL_STATUSES: readonly RunStatus[] = ['completed', 'cancelled', 'dead_lettered']

export function isFinalStatus(status: RunStatus): boolean {
  return FINAL_STATUSES.includes(status)
}

/** Whether `event` may happen to a run in `status`. */
export function canTransition(status: RunStatus, event: RunEvent): boolean {
  return TRANSITIONS[event].from.includes(status)
}

/** The status after `event`, or an {@link InvalidTransitionError}. */
export function transition(status: RunStatus, event: RunEvent): RunStatus {
  if (!canTransition(status, event)) {
    throw new InvalidTransitionError(`Cannot ${event.replace('_', '-')} a run that is ${status}`)
  }
  return TRANSITIONS[event].to
}

/** Statuses an event may start from; drivers guard their updates with exactly this list. */
export function statusesFor(event: RunEvent): readonly RunStatus[] {
  return TRANSITIONS[event].from
}
