/** How a race against an attempt's abort ends when the abort wins. */
export interface Aborted {
  aborted: true
  reason: unknown
}

/**
 * The abort of one attempt: a timeout, a cancel, a lost lease or a shutdown. The handler's
 * `AbortSignal` is made only when something reads it: an AbortController is an EventTarget,
 * and making one per attempt (with a listener to race on) was a tenth of a busy worker's
 * time for handlers that never look at their signal. The executor races on `aborted`, a
 * plain promise, instead.
 */
export class AttemptAbort {
  private controller: AbortController | null = null
  private abortedWith: { reason: unknown } | null = null
  private resolveAborted: ((value: Aborted) => void) | null = null
  private abortedPromise: Promise<Aborted> | null = null

  get isAborted(): boolean {
    return this.abortedWith !== null
  }

  /** The handler's signal; aborted already if the attempt was. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController()
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason)
    }
    return this.controller.signal
  }

  /** Settles when the attempt is aborted; never rejects. */
  get aborted(): Promise<Aborted> {
    if (!this.abortedPromise) {
      const abortedWith = this.abortedWith
      this.abortedPromise = abortedWith
        ? Promise.resolve({ aborted: true, reason: abortedWith.reason })
        : new Promise((resolve) => (this.resolveAborted = resolve))
    }
    return this.abortedPromise
  }

  /** The first abort wins; later ones change nothing, as with AbortController. */
  abort(reason: unknown): void {
    if (this.abortedWith) return
    this.abortedWith = { reason }
    this.controller?.abort(reason)
    this.resolveAborted?.({ aborted: true, reason })
  }
}
