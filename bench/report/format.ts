/** Number formatting and a small table renderer shared by the terminal and the markdown report. */

export const int = (n: number | undefined): string => (n === undefined ? '-' : Math.round(n).toLocaleString('en-US'))

/** Per-run counts: small fractions matter (0.02 commits per run is one per 50 runs). */
export const perRun = (n: number | undefined): string =>
  n === undefined ? '-' : n >= 10 ? n.toFixed(0) : n >= 0.1 ? n.toFixed(2) : n.toFixed(3)

export const ms = (n: number | undefined): string => (n === undefined ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1))

export const pct = (n: number): string => (n >= 0.1 ? `${(n * 100).toFixed(0)}%` : `${(n * 100).toFixed(1)}%`)

/** Renders rows as aligned text (terminal) or a GitHub table (markdown); the first `leftColumns` align left. */
export function renderTable(headers: string[], rows: string[][], style: 'text' | 'markdown', leftColumns = 1): string {
  if (style === 'markdown') {
    const align = headers.map((_, i) => (i < leftColumns ? '---' : '---:'))
    return [headers, align, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n')
  }
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (row: string[]) =>
    row.map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ')
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
