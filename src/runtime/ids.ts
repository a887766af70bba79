import { randomBytes } from 'node:crypto'

/**
 * A UUID version 7: 48 bits of milliseconds, then random bits. Ids sort by creation time,
 * which lets the runs list page newest-first on the primary key alone.
 */
export function newRunId(now: Date): string {
  const bytes = randomBytes(16)
  const ms = BigInt(now.getTime())
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn)
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** A worker id that says where the worker runs, for the runs list and logs. */
export function newWorkerId(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`
}
