import { parseDuration, type Duration } from '../core/durations.js'
import { DuplicateStepError, InvalidOptionError, LeaseLostError } from '../core/errors.js'
import { toStoredJson } from '../core/json.js'
import type { Step } from '../core/run.js'
import type { RunRecord } from '../storage/driver.js'
import type { AttemptAbort } from './attempt-abort.js'
import type { ErrandInternals } from './internals.js'

/** Durable steps, as handlers see them on `ctx.step`. */
export interface StepApi {
  /**
   * Runs `fn` once per run: its result is stored when it succeeds, and a later attempt
   * (after a failure, a timeout, a crash or a durable sleep) gets the stored result back
   * without calling `fn` again. Results must be JSON; they come back as JSON reads them.
   */
  run<T>(name: string, fn: () => T | Promise<T>): Promise<T>
  /** Sleeps durably: the run goes back to `scheduled`, freeing its worker slot, and resumes after its completed steps. */
  sleep(name: string, duration: Duration): Promise<void>
}

/** Thrown by `step.sleep` to unwind the handler; the executor turns it into a sleep. */
export class DurableSleep extends Error {
  constructor(readonly wakeAt: Date) {
    super(`Sleeping until ${wakeAt.toISOString()}`)
    this.name = 'DurableSleep'
  }
}

/** The steps of one attempt: loads stored steps on first use, saves new ones fenced on the attempt. */
export class AttemptSteps {
  /** Set when the handler asked to sleep, even if it swallowed the DurableSleep. */
  sleepUntil: Date | null = null
  private stored: Promise<Map<string, Step>> | null = null
  private readonly used = new Set<string>()

  constructor(
    private readonly internals: ErrandInternals,
    private readonly run: RunRecord,
    private readonly abort: AttemptAbort,
  ) {}

  api(): StepApi {
    return { run: (name, fn) => this.runStep(name, fn), sleep: (name, duration) => this.sleep(name, duration) }
  }

  private async runStep<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    this.claimName(name)
    const stored = (await this.load()).get(name)
    if (stored) return this.expectKind(stored, 'run').output as T
    this.abort.signal.throwIfAborted()
    const result = await fn()
    const outputJson = toStoredJson(result, `The result of step "${name}"`)
    await this.save({ name, kind: 'run', outputJson, wakeAt: null })
    return JSON.parse(outputJson) as T
  }

  private async sleep(name: string, duration: Duration): Promise<void> {
    const ms = parseDuration(duration)
    this.claimName(name)
    const stored = (await this.load()).get(name)
    const now = this.internals.clock.now()
    if (stored) {
      const wakeAt = this.expectKind(stored, 'sleep').wakeAt as Date
      if (wakeAt <= now) return
      this.sleepUntil = wakeAt
      throw new DurableSleep(wakeAt)
    }
    this.abort.signal.throwIfAborted()
    const wakeAt = new Date(now.getTime() + ms)
    await this.save({ name, kind: 'sleep', outputJson: 'null', wakeAt })
    if (ms === 0) return
    this.sleepUntil = wakeAt
    throw new DurableSleep(wakeAt)
  }

  private claimName(name: unknown): void {
    if (typeof name !== 'string' || name.length === 0 || name.length > 500) {
      throw new InvalidOptionError('A step name must be a non-empty string of at most 500 characters')
    }
    if (this.used.has(name)) throw new DuplicateStepError(name)
    this.used.add(name)
  }

  private expectKind(step: Step, kind: Step['kind']): Step {
    if (step.kind !== kind) throw new InvalidOptionError(`Step "${step.name}" is a ${step.kind} step, not a ${kind} step`)
    return step
  }

  private load(): Promise<Map<string, Step>> {
    this.stored ??= this.internals.driver.stepList({ runId: this.run.id }).then((steps) => new Map(steps.map((step) => [step.name, step])))
    return this.stored
  }

  private async save(step: { name: string; kind: Step['kind']; outputJson: string; wakeAt: Date | null }): Promise<void> {
    const saved = await this.internals.driver.stepSave({ runId: this.run.id, attempt: this.run.attempt, now: this.internals.clock.now(), ...step })
    if (!saved) throw new LeaseLostError(this.run.id)
  }
}
