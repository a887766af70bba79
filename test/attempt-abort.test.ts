import { describe, expect, it } from 'vitest'
import { AttemptAbort } from '../src/runtime/attempt-abort.js'

describe('AttemptAbort', () => {
  it('aborts a signal read before the abort, with the reason, and settles the race promise', async () => {
    const abort = new AttemptAbort()
    const signal = abort.signal
    const reasons: unknown[] = []
    signal.addEventListener('abort', () => reasons.push(signal.reason))
    const raced = abort.aborted
    const reason = new Error('timed out')
    abort.abort(reason)
    expect(signal.aborted).toBe(true)
    expect(reasons).toEqual([reason])
    await expect(raced).resolves.toEqual({ aborted: true, reason })
    expect(abort.isAborted).toBe(true)
  })

  it('hands out an aborted signal and a settled promise when read after the abort', async () => {
    const abort = new AttemptAbort()
    const reason = new Error('cancelled')
    abort.abort(reason)
    expect(abort.signal.aborted).toBe(true)
    expect(abort.signal.reason).toBe(reason)
    await expect(abort.aborted).resolves.toEqual({ aborted: true, reason })
  })

  it('keeps the first reason, as AbortController does', async () => {
    const abort = new AttemptAbort()
    const first = new Error('first')
    const signal = abort.signal
    abort.abort(first)
    abort.abort(new Error('second'))
    expect(signal.reason).toBe(first)
    await expect(abort.aborted).resolves.toEqual({ aborted: true, reason: first })
  })

  it('stays pending while nothing aborts', async () => {
    const abort = new AttemptAbort()
    const settled = await Promise.race([abort.aborted.then(() => 'aborted'), new Promise((resolve) => setTimeout(() => resolve('pending'), 20))])
    expect(settled).toBe('pending')
    expect(abort.isAborted).toBe(false)
    expect(abort.signal.aborted).toBe(false)
  })
})
