import { InvalidDurationError } from './errors.js'

/** A number of milliseconds, or a string such as `'250ms' '5s' '5m' '1h' '2d' '1h30m'`. */
export type Duration = number | string

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y
const UNIT_ORDER = ['w', 'd', 'h', 'm', 's', 'ms']

/**
 * Reads a duration into milliseconds. Numbers are milliseconds; strings are one or more
 * `<number><unit>` parts (units `ms s m h d w`, largest first, each at most once).
 * Throws {@link InvalidDurationError} for anything else, including negative values.
 */
export function parseDuration(input: Duration): number {
  if (typeof input === 'number') return checkMilliseconds(input, input)
  if (typeof input !== 'string') throw new InvalidDurationError(input, 'expected a number of milliseconds or a string like "5m"')
  const text = input.trim()
  if (text === '') throw new InvalidDurationError(input, 'empty string')
  if (/^\d+$/.test(text)) return checkMilliseconds(Number(text), input)
  let total = 0
  let lastUnit = -1
  PART.lastIndex = 0
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex
    const match = PART.exec(text)
    if (!match) throw new InvalidDurationError(input, `cannot read "${text.slice(start)}" (units: ms, s, m, h, d, w)`)
    const unit = match[2] as string
    const order = UNIT_ORDER.indexOf(unit)
    if (order <= lastUnit) throw new InvalidDurationError(input, 'units must go from largest to smallest, each once')
    lastUnit = order
    total += Number(match[1]) * (UNIT_MS[unit] as number)
  }
  return checkMilliseconds(Math.round(total), input)
}

function checkMilliseconds(ms: number, input: unknown): number {
  if (!Number.isFinite(ms)) throw new InvalidDurationError(input, 'must be finite')
  if (ms < 0) throw new InvalidDurationError(input, 'must not be negative')
  if (ms > Number.MAX_SAFE_INTEGER) throw new InvalidDurationError(input, 'too large')
  return Math.round(ms)
}

/** Formats milliseconds as the shortest duration string that reads back to the same value. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms'
  let rest = Math.round(ms)
  let out = ''
  for (const unit of UNIT_ORDER) {
    const size = UNIT_MS[unit] as number
    const count = Math.floor(rest / size)
    if (count > 0) {
      out += `${count}${unit}`
      rest -= count * size
    }
  }
  return out
}
