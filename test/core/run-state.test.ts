import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidTransitionError } from '../../src/core/errors.js'
import { canTransition, FINAL_STATUSES, isFinalStatus, RUN_STATUSES, transition, TRANSITIONS, type RunEvent, type RunStatus } from '../../src/core/run-state.js'

const EVENTS = Object.keys(TRANSITIONS) as RunEvent[]

describe('run state machine', () => {
  it('a new run can only be claimed, promoted or cancelled', () => {
    expect(EVENTS.filter((event) => canTransition('scheduled', event)).sort()).toEqual(['cancel', 'claim', 'promote'])
    expect(EVENTS.filter((event) => canTransition('queued', event)).sort()).toEqual(['cancel', 'claim'])
  })

  it('only a running run can complete, fail, be released or rescued', () => {
    for (const event of ['complete', 'retry', 'sleep', 'dead_letter', 'release', 'rescue'] as RunEvent[]) {
      for (const status of RUN_STATUSES) expect(canTransition(status, event)).toBe(status === 'running')
    }
  })

  it('final statuses are absorbing', () => {
    for (const status of FINAL_STATUSES) {
      for (const event of EVENTS) expect(() => transition(status, event)).toThrow(InvalidTransitionError)
    }
  })

  it('walks of random events never leave a final status, and every accepted step matches the table (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...EVENTS), { maxLength: 40 }), (events) => {
        let status: RunStatus = 'scheduled'
        let finalReached: RunStatus | null = null
        for (const event of events) {
          if (canTransition(status, event)) {
            const next = transition(status, event)
            expect(next).toBe(TRANSITIONS[event].to)
            expect(finalReached).toBeNull()
            status = next
            if (isFinalStatus(status)) finalReached = status
          } else {
            expect(() => transition(status, event)).toThrow(InvalidTransitionError)
          }
        }
        if (finalReached) expect(status).toBe(finalReached)
      }),
    )
  })

  it('every status is reachable from scheduled', () => {
    const seen = new Set<RunStatus>(['scheduled'])
    let frontier: RunStatus[] = ['scheduled']
    while (frontier.length) {
      const next: RunStatus[] = []
      for (const status of frontier) {
        for (const event of EVENTS) {
          if (!canTransition(status, event)) continue
          const to = transition(status, event)
          if (!seen.has(to)) (seen.add(to), next.push(to))
        }
      }
      frontier = next
    }
    expect([...seen].sort()).toEqual([...RUN_STATUSES].sort())
  })
})
