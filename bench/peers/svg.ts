/**
 * The throughput chart of the Peers section, written as plain SVG from the medians (no
 * plotting dependency). Grouped bars: one group per scenario, one bar per system. The axis
 * is logarithmic because the figures span four orders of magnitude (pg-boss polling at a
 * few jobs/s, batched enqueue at tens of thousands); each bar carries its number.
 */
import type { Summary } from './summary.js'

const COLORS = ['#1f77b4', '#6baed6', '#d62728', '#2ca02c', '#ff7f0e', '#7f7f7f']
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
const short = (v: number) => (v >= 10_000 ? `${Math.round(v / 1000)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v >= 10 ? String(Math.round(v)) : v.toFixed(1))

export function throughputSvg(summaries: Summary[], scenarios: Array<[string, string]>, systems: string[]): string {
  const groups = scenarios.filter(([sc]) => summaries.some((s) => s.scenario === sc && s.perSec))
  const W = 980
  const H = 440
  const left = 60
  const top = 40
  const bottom = 90
  const plotH = H - top - bottom
  const groupW = (W - left - 20) / groups.length
  const barW = Math.min(22, (groupW - 16) / systems.length)
  const values = summaries.flatMap((s) => (s.perSec ? [s.perSec.median] : []))
  const maxExp = Math.ceil(Math.log10(Math.max(10, ...values)))
  const y = (v: number) => top + plotH - (Math.log10(Math.max(1, v)) / maxExp) * plotH
  const out = chartStart(W, H, 'Jobs per second, median of repetitions (log scale; higher is better)')
  for (let e = 0; e <= maxExp; e++) {
    const yy = y(10 ** e)
    out.push(`<line x1="${left}" x2="${W - 20}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${yy + 4}" text-anchor="end">${short(10 ** e)}</text>`)
  }
  groups.forEach(([scenario, header], g) => {
    const x0 = left + g * groupW + (groupW - barW * systems.length) / 2
    systems.forEach((system, i) => {
      const s = summaries.find((x) => x.system === system && x.scenario === scenario)
      if (!s?.perSec) return
      const x = x0 + i * barW
      const yy = y(s.perSec.median)
      out.push(
        `<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(system)}: ${esc(s.label)}: ${Math.round(s.perSec.median)} jobs/s</title></rect>`,
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(yy - 3).toFixed(1)}" text-anchor="middle" font-size="8" transform="rotate(-60 ${(x + barW / 2).toFixed(1)} ${(yy - 3).toFixed(1)})">${short(s.perSec.median)}</text>`,
      )
    })
    const cx = (left + g * groupW + groupW / 2).toFixed(1)
    const lines = wrapLabel(header)
    const spans = lines.map((line, n) => `<tspan x="${cx}" dy="${n === 0 ? 0 : 12}">${esc(line)}</tspan>`).join('')
    out.push(`<text x="${cx}" y="${top + plotH + 16}" text-anchor="middle">${spans}</text>`)
  })
  out.push(...legend(systems.map((system, i) => ({ name: system, color: COLORS[i % COLORS.length]! })), left, H - 38, 18))
  return chartEnd(out)
}

/**
 * The mixed load's backlog over time, one line per system (the repetition whose largest
 * backlog is the median one), on linear axes: seconds since the producer's first enqueue,
 * and jobs enqueued but not yet started.
 */
export function backlogSvg(summaries: Summary[], systems: string[]): string {
  const lines = systems.flatMap((system, i) => {
    const s = summaries.find((x) => x.system === system && x.mixed)
    return s?.mixed ? [{ system, color: COLORS[i % COLORS.length]!, series: s.mixed.series, label: s.label }] : []
  })
  const W = 980
  const H = 360
  const left = 70
  const right = 20
  const top = 40
  const bottom = 80
  const plotW = W - left - right
  const plotH = H - top - bottom
  const maxT = Math.max(1, ...lines.flatMap((l) => l.series.map(([t]) => t)))
  const maxB = niceCeil(Math.max(10, ...lines.flatMap((l) => l.series.map(([, b]) => b))))
  const x = (t: number) => left + (t / maxT) * plotW
  const y = (b: number) => top + plotH - (b / maxB) * plotH
  const first = summaries.find((s) => s.mixed)?.mixed
  const rate = first ? ` (${first.rate.toLocaleString('en-US')} jobs/s for ${first.seconds} s)` : ''
  const out = chartStart(W, H, `Mixed load${rate}: jobs enqueued and not yet started (lower is better)`)
  for (let k = 0; k <= 4; k++) {
    const b = (maxB * k) / 4
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y(b)}" y2="${y(b)}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${y(b) + 4}" text-anchor="end">${Math.round(b).toLocaleString('en-US')}</text>`)
  }
  const tStep = maxT > 60 ? 10 : maxT > 20 ? 5 : maxT > 8 ? 2 : 1
  for (let t = 0; t <= maxT; t += tStep) out.push(`<text x="${x(t).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${t}</text>`)
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 32}" text-anchor="middle">seconds since the first enqueue</text>`)
  if (first) {
    const xe = x(first.seconds).toFixed(1)
    out.push(
      `<line x1="${xe}" x2="${xe}" y1="${top}" y2="${top + plotH}" stroke="#999" stroke-dasharray="4 3"/>`,
      `<text x="${xe}" y="${top - 4}" text-anchor="end" fill="#666">production ends</text>`,
    )
  }
  for (const l of lines) {
    const points = l.series.map(([t, b]) => `${x(t).toFixed(1)},${y(b).toFixed(1)}`).join(' ')
    out.push(`<polyline fill="none" stroke="${l.color}" stroke-width="1.5" points="${points}"><title>${esc(l.system)}: ${esc(l.label)}</title></polyline>`)
  }
  out.push(...legend(lines.map((l) => ({ name: l.system, color: l.color })), left, H - 30, 16))
  return chartEnd(out)
}

/** The opening of a chart: its size, a white background and its title. */
function chartStart(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`,
  ]
}

function chartEnd(out: string[]): string {
  return `${[...out, '</svg>'].join('\n')}\n`
}

/** A colour key, three entries to a row, the first row's baseline at `y`. */
function legend(entries: Array<{ name: string; color: string }>, left: number, y: number, rowHeight: number): string[] {
  return entries.flatMap(({ name, color }, i) => {
    const x = left + (i % 3) * 300
    const yy = y + Math.floor(i / 3) * rowHeight
    return [`<rect x="${x}" y="${yy - 9}" width="12" height="12" fill="${color}"/>`, `<text x="${x + 18}" y="${yy + 1}">${esc(name)}</text>`]
  })
}

/** 1, 2 or 5 times a power of ten, at or above `v`. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v))
  return [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v) ?? 10 * p
}

/** A group label on at most two lines, split at the space nearest its middle, so neighbours do not overlap. */
function wrapLabel(label: string): string[] {
  if (label.length <= 14 || !label.includes(' ')) return [label]
  const middle = label.length / 2
  let cut = -1
  for (let i = label.indexOf(' '); i !== -1; i = label.indexOf(' ', i + 1)) if (cut === -1 || Math.abs(i - middle) < Math.abs(cut - middle)) cut = i
  return [label.slice(0, cut), label.slice(cut + 1)]
}
