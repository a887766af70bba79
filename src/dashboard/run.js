// One run: what it was given and returned, its attempts as a timeline, steps, logs, actions.
import { api } from './api.js'
import { confirmAction, onRunChanges, toast } from './app.js'
import { h, jsonBlock, replace } from './dom.js'
import { absolute, ACTIVE, compact, duration, FINAL, relative, statusLabel } from './format.js'

export function renderRun(main, id) {
  let stopped = false
  const load = async () => {
    try {
      const detail = await api(`runs/${encodeURIComponent(id)}`)
      if (!stopped) replace(main, view(detail, load))
    } catch (error) {
      if (!stopped) replace(main, h('h1', {}, 'Run'), h('p', { class: 'error' }, error.status === 404 ? `No run ${id}.` : `Could not load the run: ${error.message}`), h('a', { href: '#/runs' }, '← All runs'))
    }
  }
  load()
  const off = onRunChanges((changes) => {
    if (changes.some((change) => change.id === id)) load()
  })
  return () => {
    stopped = true
    off()
  }
}

function view({ run, attempts, steps, logs }, reload) {
  return [
    h('p', { class: 'crumbs' }, h('a', { href: '#/runs' }, '← Runs'), ' / ', h('a', { href: `#/runs?task=${encodeURIComponent(run.task)}` }, run.task)),
    h('div', { class: 'run-head' }, h('h1', {}, run.task, ' ', h('span', { class: `badge status-${run.status}` }, statusLabel(run.status))), actions(run, reload)),
    h('p', { class: 'mono muted run-id' }, run.id),
    facts(run),
    progress(run.progress),
    run.error ? section('Error', errorBlock(run.error)) : null,
    section('Payload', jsonBlock(run.payload, 'Payload')),
    run.status === 'completed' || run.output !== null ? section('Output', jsonBlock(run.output, 'Output')) : null,
    section(`Attempts (${attempts.length})`, timeline(attempts)),
    steps ? section(`Steps (${steps.length})`, stepList(steps)) : null,
    logs ? section(`Logs (${logs.length})`, logList(logs)) : null,
    Object.keys(run.metadata ?? {}).length ? section('Metadata', jsonBlock(run.metadata, 'Metadata')) : null,
  ]
}

function section(title, ...content) {
  return h('section', { class: 'panel' }, h('h2', {}, title), content)
}

function actions(run, reload) {
  const act = async (kind) => {
    const cancel = kind === 'cancel'
    const answer = await confirmAction({
      title: cancel ? 'Cancel this run?' : 'Replay this run?',
      body: cancel ? `The run of ${run.task} stops now; a running handler is told to abort.` : `A new run of ${run.task} starts with the same payload.`,
      confirm: cancel ? 'Cancel run' : 'Replay run',
      danger: cancel,
    })
    if (!answer) return
    try {
      const result = await api(`runs/${encodeURIComponent(run.id)}/${kind}`, { method: 'POST', body: { reason: answer.reason } })
      if (cancel) {
        toast('Run cancelled', 'success')
        reload()
      } else {
        toast('Replay enqueued', 'success')
        location.hash = `#/runs/${encodeURIComponent(result.run.id)}`
      }
    } catch (error) {
      toast(error.message, 'error')
    }
  }
  return h(
    'div',
    { class: 'actions' },
    ACTIVE.includes(run.status) ? h('button', { type: 'button', class: 'danger', onclick: () => act('cancel') }, 'Cancel…') : null,
    FINAL.includes(run.status) ? h('button', { type: 'button', class: 'secondary', onclick: () => act('replay') }, 'Replay…') : null,
  )
}

function facts(run) {
  const time = (iso) => (iso ? h('time', { datetime: iso, title: absolute(iso) }, `${compact(iso)} · ${relative(iso)}`) : '—')
  const items = [
    ['Attempt', `${run.attempt} of ${run.maxAttempts}`],
    ['Priority', String(run.priority)],
    ['Queue', run.queue ?? '—'],
    ['Created', time(run.createdAt)],
    ['Due', time(run.runAt)],
    ['Started', time(run.startedAt)],
    ['Finished', time(run.completedAt)],
    ['Took', run.startedAt && run.completedAt ? duration(new Date(run.completedAt) - new Date(run.startedAt)) : '—'],
    ['Updated', time(run.updatedAt)],
    ['Timeout', run.timeoutMs === null ? 'none' : duration(run.timeoutMs)],
    run.idempotencyKey ? ['Idempotency key', run.idempotencyKey] : null,
    run.replayOf ? ['Replay of', h('a', { href: `#/runs/${encodeURIComponent(run.replayOf)}`, class: 'mono' }, run.replayOf)] : null,
    run.replayReason ? ['Replay reason', run.replayReason] : null,
    run.cancelReason ? ['Cancel reason', run.cancelReason] : null,
    run.lockedBy ? ['Worker', run.lockedBy] : null,
    run.leaseExpiresAt ? ['Lease until', time(run.leaseExpiresAt)] : null,
    run.scheduleKey ? ['Schedule', h('a', { href: `#/runs?schedule=${encodeURIComponent(run.scheduleKey)}` }, run.scheduleKey)] : null,
    run.scheduledFor ? ['Tick', time(run.scheduledFor)] : null,
  ].filter(Boolean)
  return h('dl', { class: 'facts' }, items.map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))))
}

/** A number from 0 to 1 (or 0 to 100) is a bar; anything else is shown as JSON. */
function progress(value) {
  if (value === null || value === undefined) return null
  const fraction = typeof value === 'number' ? (value > 1 ? value / 100 : value) : typeof value?.percent === 'number' ? value.percent / 100 : null
  if (fraction === null || !Number.isFinite(fraction)) return section('Progress', jsonBlock(value, 'Progress'))
  const percent = Math.round(Math.min(1, Math.max(0, fraction)) * 100)
  return section('Progress', h('progress', { max: '100', value: String(percent), 'aria-label': 'Progress' }), h('span', { class: 'muted' }, ` ${percent}%`))
}

function errorBlock(error) {
  return [
    h('p', { class: 'error-line' }, h('strong', {}, error.name ?? 'Error'), error.code ? ` [${error.code}]` : '', ': ', error.message ?? ''),
    error.stack ? h('details', {}, h('summary', {}, 'Stack trace'), h('pre', { class: 'stack', tabindex: '0' }, error.stack)) : null,
  ]
}

function timeline(attempts) {
  if (attempts.length === 0) return h('p', { class: 'muted' }, 'Not started yet.')
  return h(
    'ol',
    { class: 'timeline' },
    attempts.map((attempt) => {
      const took = attempt.finishedAt ? duration(new Date(attempt.finishedAt) - new Date(attempt.startedAt)) : 'running'
      return h(
        'li',
        { class: `outcome-${attempt.outcome}` },
        h('div', { class: 'when' }, h('time', { datetime: attempt.startedAt }, absolute(attempt.startedAt))),
        h('div', {}, h('strong', {}, `Attempt ${attempt.attempt}`), ' ', h('span', { class: `badge outcome-${attempt.outcome}` }, attempt.outcome.replace('_', ' ')), ' ', h('span', { class: 'muted' }, `${took}${attempt.workerId ? ` · worker ${attempt.workerId}` : ''}`)),
        attempt.error ? errorBlock(attempt.error) : null,
      )
    }),
  )
}

function stepList(steps) {
  if (steps.length === 0) return h('p', { class: 'muted' }, 'No steps recorded.')
  return h(
    'ol',
    { class: 'steps' },
    steps.map((step) =>
      h('li', {}, h('strong', {}, step.name), ' ', h('span', { class: 'muted' }, `${step.kind} · attempt ${step.attempt} · ${absolute(step.completedAt)}${step.wakeAt ? ` · wakes ${absolute(step.wakeAt)}` : ''}`), step.kind === 'run' ? jsonBlock(step.output, `Output of ${step.name}`) : null),
    ),
  )
}

function logList(logs) {
  if (logs.length === 0) return h('p', { class: 'muted' }, 'Nothing logged.')
  return h(
    'ol',
    { class: 'logs' },
    logs.map((log) =>
      h('li', { class: `level-${log.level}` }, h('time', { datetime: log.at }, new Date(log.at).toLocaleTimeString()), h('span', { class: 'level' }, log.level), h('span', { class: 'message' }, log.message), log.data !== null && log.data !== undefined ? jsonBlock(log.data, 'Log data') : null),
    ),
  )
}
