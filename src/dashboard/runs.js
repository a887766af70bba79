// The runs list: filters kept in the URL, cursor paging, live updates, bulk actions.
import { api, query } from './api.js'
import { confirmAction, onRunChanges, toast } from './app.js'
import { h, replace } from './dom.js'
import { absolute, ACTIVE, FINAL, relative, shortId, STATUSES, statusLabel } from './format.js'

const LIMIT = 50
const FILTERS = ['task', 'status', 'queue', 'schedule', 'createdFrom', 'createdBefore']

export function renderRuns(main, params) {
  const filter = Object.fromEntries(FILTERS.map((key) => [key, params.get(key) ?? '']))
  const cursor = params.get('cursor') ?? ''
  const body = h('tbody')
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' })
  const bulk = h('div', { class: 'bulk' })
  const fresh = h('p', { class: 'fresh muted', role: 'status', 'aria-live': 'polite' })
  main.append(
    h('h1', {}, 'Runs'),
    filterForm(filter),
    bulk,
    fresh,
    h('div', { class: 'table-wrap' }, h('table', { class: 'runs' }, h('caption', { class: 'sr-only' }, 'Runs, newest first'), head(), body)),
    pager,
  )
  renderBulk(bulk, filter)

  let stopped = false
  let newest = ''
  let loaded = false
  const rows = new Map()
  api(`runs${query({ ...filter, limit: LIMIT, cursor })}`)
    .then((page) => {
      if (stopped) return
      for (const run of page.runs) body.append(row(run, rows))
      newest = page.runs[0]?.id ?? ''
      loaded = true
      if (page.runs.length === 0) body.append(h('tr', { class: 'empty' }, h('td', { colspan: '6', class: 'muted' }, 'No runs match.')))
      renderPager(pager, params, page.nextCursor)
    })
    .catch((error) => replace(body, h('tr', {}, h('td', { colspan: '6', class: 'error' }, `Could not load runs: ${error.message}`))))

  // Live: status changes update their row; on the first page, new matching runs appear on top.
  const off = onRunChanges((changes) => {
    if (!loaded) return
    let added = 0
    for (const change of changes) {
      const existing = rows.get(change.id)
      if (existing) update(existing, change)
      // Ids grow with creation time: a run newer than the top row is new, whatever its status by now.
      else if (!cursor && change.id > newest && matches(change, filter)) {
        body.querySelector('tr.empty')?.remove()
        body.prepend(row(change, rows))
        newest = change.id > newest ? change.id : newest
        added++
      }
    }
    if (added) fresh.textContent = `${added} new run${added === 1 ? '' : 's'} just arrived`
  })
  return () => {
    stopped = true
    off()
  }
}

function matches(run, filter) {
  if (filter.task && run.task !== filter.task) return false
  if (filter.queue && run.queue !== filter.queue) return false
  // The change feed does not carry the schedule: new runs of a schedule show on the next load.
  if (filter.schedule) return false
  if (filter.status && !filter.status.split(',').includes(run.status)) return false
  if (filter.createdFrom && new Date(run.createdAt) < new Date(filter.createdFrom)) return false
  if (filter.createdBefore && new Date(run.createdAt) >= new Date(filter.createdBefore)) return false
  return true
}

function head() {
  return h('thead', {}, h('tr', {}, ['Status', 'Task', 'Run', 'Queue', 'Attempt', 'Created'].map((label) => h('th', { scope: 'col' }, label))))
}

function badge(status) {
  return h('span', { class: `badge status-${status}` }, statusLabel(status))
}

function row(run, rows) {
  const status = h('td', {}, badge(run.status))
  const attempt = h('td', { class: 'num' }, `${run.attempt}/${run.maxAttempts}`)
  const tr = h(
    'tr',
    { 'data-id': run.id },
    status,
    h('td', {}, run.task),
    h('td', { class: 'mono' }, h('a', { href: `#/runs/${encodeURIComponent(run.id)}`, title: run.id }, shortId(run.id))),
    h('td', {}, run.queue ?? h('span', { class: 'muted' }, '—')),
    attempt,
    h('td', { title: absolute(run.createdAt) }, relative(run.createdAt)),
  )
  rows.set(run.id, { tr, status, attempt })
  return tr
}

function update(entry, change) {
  replace(entry.status, badge(change.status))
  entry.attempt.textContent = `${change.attempt}/${change.maxAttempts}`
  entry.tr.classList.add('changed')
}

function filterForm(filter) {
  const tasks = h('select', { name: 'task', id: 'f-task' }, h('option', { value: '' }, 'any task'))
  api('tasks')
    .then(({ tasks: list }) => {
      const names = new Set(list.map((task) => task.name))
      if (filter.task) names.add(filter.task)
      for (const name of [...names].sort()) tasks.append(h('option', { value: name, selected: name === filter.task }, name))
    })
    .catch(() => {})
  const status = h('select', { name: 'status', id: 'f-status' }, h('option', { value: '' }, 'any status'), STATUSES.map((s) => h('option', { value: s, selected: s === filter.status }, statusLabel(s))))
  const queue = h('input', { name: 'queue', id: 'f-queue', type: 'text', value: filter.queue, placeholder: 'any queue', autocomplete: 'off' })
  const from = h('input', { name: 'createdFrom', id: 'f-from', type: 'datetime-local', value: toLocalInput(filter.createdFrom) })
  const before = h('input', { name: 'createdBefore', id: 'f-before', type: 'datetime-local', value: toLocalInput(filter.createdBefore) })
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter runs' },
    h('label', { for: 'f-task' }, 'Task', tasks),
    h('label', { for: 'f-status' }, 'Status', status),
    h('label', { for: 'f-queue' }, 'Queue', queue),
    h('label', { for: 'f-from' }, 'Created from', from),
    h('label', { for: 'f-before' }, 'Created before', before),
    h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'), h('a', { href: '#/runs', class: 'button ghost' }, 'Clear')),
  )
  const apply = (event) => {
    event?.preventDefault()
    const next = new URLSearchParams()
    if (tasks.value) next.set('task', tasks.value)
    if (status.value) next.set('status', status.value)
    if (queue.value.trim()) next.set('queue', queue.value.trim())
    if (filter.schedule) next.set('schedule', filter.schedule)
    if (from.value) next.set('createdFrom', new Date(from.value).toISOString())
    if (before.value) next.set('createdBefore', new Date(before.value).toISOString())
    location.hash = `#/runs${next.size ? `?${next}` : ''}`
  }
  form.addEventListener('submit', apply)
  tasks.addEventListener('change', apply)
  status.addEventListener('change', apply)
  return form
}

function toLocalInput(iso) {
  if (!iso) return ''
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return ''
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
}

function renderPager(pager, params, nextCursor) {
  const newest = new URLSearchParams(params)
  newest.delete('cursor')
  const older = new URLSearchParams(params)
  if (nextCursor) older.set('cursor', nextCursor)
  replace(
    pager,
    params.get('cursor') ? h('a', { class: 'button ghost', href: `#/runs${newest.size ? `?${newest}` : ''}` }, '← Newest') : null,
    nextCursor ? h('a', { class: 'button ghost', href: `#/runs?${older}`, rel: 'next' }, 'Older →') : null,
  )
}

/** Cancel or replay every run matching the filter, after a confirmation. Needs a filter. */
function renderBulk(bulk, filter) {
  const chosen = Object.fromEntries(Object.entries(filter).filter(([, value]) => value))
  if (Object.keys(chosen).length === 0) return
  const status = chosen.status
  const described = Object.entries(chosen).map(([key, value]) => `${key} ${value}`).join(', ')
  const act = async (kind) => {
    const cancel = kind === 'cancel'
    const answer = await confirmAction({
      title: cancel ? 'Cancel matching runs?' : 'Replay matching runs?',
      body: cancel
        ? `Every scheduled, queued or running run with ${described} will be cancelled (at most 1,000).`
        : `Every finished run with ${described} will run again as a new run (at most 1,000).`,
      confirm: cancel ? 'Cancel runs' : 'Replay runs',
      danger: cancel,
    })
    if (!answer) return
    const filterBody = { ...chosen }
    if (filterBody.status) filterBody.status = filterBody.status.split(',')
    try {
      const result = await api(`runs/${kind}`, { method: 'POST', body: { filter: filterBody, reason: answer.reason } })
      toast(`${cancel ? 'Cancelled' : 'Replayed'} ${result.ids.length} run${result.ids.length === 1 ? '' : 's'}${result.more ? ' (more remain)' : ''}`, 'success')
      window.dispatchEvent(new HashChangeEvent('hashchange'))
    } catch (error) {
      toast(error.message, 'error')
    }
  }
  const canCancel = !status || status.split(',').some((s) => ACTIVE.includes(s))
  const canReplay = !status || status.split(',').some((s) => FINAL.includes(s))
  replace(
    bulk,
    h('span', { class: 'muted' }, 'All matching runs: '),
    canCancel ? h('button', { type: 'button', class: 'danger', onclick: () => act('cancel') }, 'Cancel all…') : null,
    canReplay ? h('button', { type: 'button', class: 'secondary', onclick: () => act('replay') }, 'Replay all…') : null,
  )
}
