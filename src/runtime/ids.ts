import { randomBytes } from 'node:crypto'

let lastMs = -1
let lastId: Buffer | null = null

/**
 * A UUID version 7: 48 bits of milliseconds, then random bits. Ids sort by creation time,
 * which lets the runs list page newest-first on the primary key alone, and orders runs that
 * are due at the same moment (a serial queue runs them in this order).
 *
 * Within one process ids are strictly increasing: an id made in the same millisecond as the
 * previous one (or after the clock stepped back) is the previous one plus one, counting in
 * its random bits (RFC 9562, section 6.2, method 2). Without that, the runs of one
 * `enqueueMany` would sort in random order.
 */
export function newRunId(now: Date): string {
  const ms = now.getTime()
  let bytes: Buffer
  if (lastId && ms <= lastMs) {
    bytes = Buffer.from(lastId)
    increment(bytes)
  } else {
    bytes = randomBytes(16)
    const time = BigInt(ms)
    for (let i = 0; i < 6; i++) bytes[i] = Number((time >> BigInt(8 * (5 - i))) & 0xffn)
    // Room to count: the counted tail (bytes 9 to 15) starts with its top bit clear, so it
    // cannot overflow before 2^55 ids in one millisecond.
    bytes[9] = (bytes[9] as number) & 0x7f
    bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70
    bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
    lastMs = ms
  }
  lastId = bytes
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Adds one to the random tail (bytes 9 to 15), big-endian. */
function increment(bytes: Buffer): void {
  for (let i = 15; i >= 9; i--) {
    const value = ((bytes[i] as number) + 1) & 0xff
    bytes[i] = value
    if (value !== 0) return
  }
}

/** A worker id that says where the worker runs, for the runs list and logs. */
export function newWorkerId(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`
}
