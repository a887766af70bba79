// The overview: counts per status, per task and per queue, and the last hour as a chart.
import { api } from './api.js'
import { onRunChanges, toast } from './app.js'
import { h, replace, svg } from './dom.js'
import { number, STATUSES, statusLabel } from './format.js'

export function renderOverview(main) {
  const cards = h('div', { class: 'cards' })
  const chart = h('figure', { class: 'chart' })
  const tasks = h('section', { 'aria-labelledby': 'tasks-title' })
  const queues = h('section', { 'aria-labelledby': 'queues-title' })
  main.append(h('h1', {}, 'Overview'), cards, h('h2', {}, 'Last hour'), chart, tasks, queues)

  let stopped = false
  let timer = null
  const loadCounts = async () => {
    try {
      const counts = await api('counts')
      if (stopped) return
      renderCards(cards, counts)
      renderTable(tasks, 'tasks-title', 'Tasks', 'task', counts.byTask)
      renderTable(queues, 'queues-title', 'Queues', 'queue', counts.byQueue)
    } catch (error) {
      toast(`Could not load counts: ${error.message}`, 'error')
    }
  }
  const loadActivity = async () => {
    try {
      const activity = await api('activity')
      if (!stopped) renderChart(chart, activity)
    } catch (error) {
      toast(`Could not load activity: ${error.message}`, 'error')
    }
  }
  loadCounts()
  loadActivity()
  // Live changes refresh the counts, at most once a second; the chart every 15 seconds.
  const off = onRunChanges(() => {
    if (timer) return
    timer = setTimeout(() => {
      timer = null
      loadCounts()
    }, 1000)
  })
  const chartTimer = setInterval(loadActivity, 15_000)
  return () => {
    stopped = true
    off()
    clearTimeout(timer)
    clearInterval(chartTimer)
  }
}

function renderCards(cards, counts) {
  replace(
    cards,
    h('a', { class: 'card total', href: '#/runs' }, h('span', { class: 'label' }, 'All runs'), h('span', { class: 'value' }, number(counts.total))),
    STATUSES.map((status) =>
      h(
        'a',
        { class: `card status-${status}`, href: `#/runs?status=${status}`, 'data-status': status },
        h('span', { class: 'label' }, capitalized(statusLabel(status))),
        h('span', { class: 'value' }, number(counts.byStatus[status] ?? 0)),
      ),
    ),
  )
}

function renderTable(section, id, title, key, rows) {
  if (rows.length === 0 && key === 'queue') return replace(section)
  const link = (name, status, n) => {
    const filter = new URLSearchParams({ [key]: name })
    if (status) filter.set('status', status)
    return n === 0 ? h('span', { class: 'zero' }, '0') : h('a', { href: `#/runs?${filter}` }, number(n))
  }
  replace(
    section,
    h('h2', { id }, title),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'counts' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, key), STATUSES.map((s) => h('th', { scope: 'col', class: 'num' }, statusLabel(s))), h('th', { scope: 'col', class: 'num' }, 'total'))),
        h(
          'tbody',
          {},
          rows.length === 0 ? h('tr', {}, h('td', { colspan: String(STATUSES.length + 2), class: 'muted' }, 'None yet')) : null,
          rows.map((row) =>
            h('tr', {}, h('th', { scope: 'row' }, h('a', { href: `#/runs?${new URLSearchParams({ [key]: row[key] })}` }, row[key])), STATUSES.map((s) => h('td', { class: `num status-${s}` }, link(row[key], s, row.byStatus[s] ?? 0))), h('td', { class: 'num' }, link(row[key], null, row.total))),
          ),
        ),
      ),
    ),
  )
}

/** Stacked bars per minute: completed, dead-lettered and cancelled runs. */
function renderChart(figure, activity) {
  const buckets = activity.buckets
  // Drawn at the figure's own width, so text keeps its proportions on any screen.
  const width = Math.max(280, Math.round(figure.clientWidth - 26) || 720)
  const height = 180
  const pad = { left: 36, right: 8, top: 10, bottom: 22 }
  const max = Math.max(1, ...buckets.map((b) => b.completed + b.deadLettered + b.cancelled))
  const step = (width - pad.left - pad.right) / Math.max(1, buckets.length)
  const y = (n) => pad.top + (height - pad.top - pad.bottom) * (1 - n / max)
  const totals = buckets.reduce((t, b) => ({ completed: t.completed + b.completed, dead: t.dead + b.deadLettered, cancelled: t.cancelled + b.cancelled }), { completed: 0, dead: 0, cancelled: 0 })
  const summary = `${number(totals.completed)} completed, ${number(totals.dead)} dead-lettered and ${number(totals.cancelled)} cancelled in the last hour; at most ${number(max)} in one minute`
  const bars = []
  buckets.forEach((bucket, index) => {
    let base = 0
    const x = pad.left + index * step
    const time = new Date(bucket.at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    for (const [field, cls] of [['completed', 'completed'], ['deadLettered', 'dead_lettered'], ['cancelled', 'cancelled']]) {
      const n = bucket[field]
      if (!n) continue
      bars.push(svg('rect', { class: `bar status-${cls}`, x: (x + 0.5).toFixed(1), width: Math.max(1, step - 1).toFixed(1), y: y(base + n).toFixed(1), height: (y(base) - y(base + n)).toFixed(1) }, svg('title', {}, `${time}: ${n} ${field === 'deadLettered' ? 'dead-lettered' : field}`)))
      base += n
    }
  })
  const ticks = buckets
    .map((bucket, index) => ({ bucket, index }))
    .filter(({ index }) => index % (width < 560 ? 30 : 15) === 0)
    .map(({ bucket, index }) => svg('text', { x: (pad.left + index * step).toFixed(1), y: String(height - 6), class: 'tick', 'text-anchor': index === 0 ? 'start' : pad.left + index * step > width - 40 ? 'end' : 'middle' }, new Date(bucket.at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })))
  replace(
    figure,
    svg(
      'svg',
      { viewBox: `0 0 ${width} ${height}`, width: String(width), height: String(height), role: 'img', 'aria-label': summary },
      svg('line', { x1: String(pad.left), x2: String(width - pad.right), y1: String(y(0)), y2: String(y(0)), class: 'axis' }),
      svg('text', { x: '4', y: String(pad.top + 8), class: 'tick' }, String(max)),
      svg('text', { x: '4', y: String(y(0)), class: 'tick' }, '0'),
      bars,
      ticks,
    ),
    h('figcaption', {}, h('span', { class: 'key status-completed' }, 'completed'), h('span', { class: 'key status-dead_lettered' }, 'dead-lettered'), h('span', { class: 'key status-cancelled' }, 'cancelled'), h('span', { class: 'muted' }, ` · ${summary}`)),
  )
}

function capitalized(text) {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
