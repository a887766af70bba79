/** Plain-text output: tables, times and values, for people. `--json` output bypasses this. */
import type { Run } from '../index.js'

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

const UNITS: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
]

/** A rough span: '3d', '5h', '12m', '40s', '250ms'. */
export function span(ms: number): string {
  const abs = Math.abs(ms)
  for (const [unit, size] of UNITS) if (abs >= size) return `${Math.floor(abs / size)}${unit}`
  return `${Math.round(abs)}ms`
}

/** A time relative to now: '5m ago', 'in 2h'. */
export function relative(date: Date | null, now: Date): string {
  if (!date) return '-'
  const diff = date.getTime() - now.getTime()
  if (Math.abs(diff) < 1_000) return 'now'
  return diff > 0 ? `in ${span(diff)}` : `${span(diff)} ago`
}

/** An ISO time with its relative form: '2030-01-31T09:00:00.000Z (in 2h)'. */
export function when(date: Date | null, now: Date): string {
  return date ? `${date.toISOString()} (${relative(date, now)})` : '-'
}

/** A value on one line, as JSON, cut to `max` characters. */
export function compact(value: unknown, max = 200): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** Stable machine-readable output: dates as ISO strings (their toJSON), two-space indent. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
}

/** One row of the runs table. */
export function runRow(run: Run, now: Date): string[] {
  return [run.id, run.task, run.status, `${run.attempt}/${run.maxAttempts}`, relative(run.runAt, now), relative(run.createdAt, now), run.queue ?? '-']
}

export const RUN_HEADERS = ['ID', 'TASK', 'STATUS', 'ATTEMPT', 'RUN AT', 'CREATED', 'QUEUE']

/** `label  value` lines, labels padded; entries whose value is undefined are left out. */
export function fields(entries: Array<[string, string | undefined]>): string {
  const shown = entries.filter((entry): entry is [string, string] => entry[1] !== undefined)
  const width = Math.max(...shown.map(([label]) => label.length))
  return shown.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n')
}
