/**
 * Runs one job in a child process. Each errand scenario runs in its own process so that
 * one scenario's heap, timers and open handles cannot slow the next, and so the resident
 * memory reported is that scenario's alone. The job travels as JSON on argv; the child
 * answers over the IPC channel (`ready` when it waits for a partner, then `result`).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildJob } from './jobs.js'

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url))
// Resolved to a file URL so the child finds tsx whatever its working directory.
const TSX = import.meta.resolve('tsx')

export type ChildMessage = { type: 'ready' } | { type: 'result'; value: unknown } | { type: 'error'; message: string; stack?: string }

export interface RunningChild<T> {
  child: ChildProcess
  /** Resolves when the child sends `ready`. */
  ready: Promise<void>
  result: Promise<T>
}

/** Starts a child on `job`; a child that exits without a result rejects `result`. */
export function startChild<T>(job: ChildJob, timeoutMs = 15 * 60_000): RunningChild<T> {
  const child = fork(CHILD, [JSON.stringify(job)], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  const result = new Promise<T>((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      fail(new Error(`bench child ${job.kind} took longer than ${timeoutMs} ms`))
    }, timeoutMs)
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(error)
    }
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') return markReady()
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (message.type === 'result') resolve(message.value as T)
      else reject(Object.assign(new Error(`bench child ${job.kind}: ${message.message}`), { stack: message.stack }))
    })
    child.on('exit', (code, signal) => fail(new Error(`bench child ${job.kind} exited (${signal ?? code}) without a result`)))
    child.on('error', fail)
  })
  return { child, ready, result }
}

/** Runs a job to its end. */
export function runChild<T>(job: ChildJob): Promise<T> {
  return startChild<T>(job).result
}
