// The dashboard's shell: routing by URL hash, live run events, theme, toasts and dialogs.
import { h, replace } from './dom.js'
import { renderOverview } from './overview.js'
import { renderRun } from './run.js'
import { renderRuns } from './runs.js'

const main = document.getElementById('main')
const listeners = new Set()
let current = null

/** Subscribes a view to run changes; views unsubscribe when the route changes. */
export function onRunChanges(listener) {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

/** Shows a short message at the bottom of the screen. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts')
  const item = h('div', { class: `toast ${kind}` }, message)
  box.append(item)
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000)
}

/**
 * Asks before an action: a modal dialog with the question, optional reason field, and
 * Cancel / confirm buttons. Resolves with `{ reason }`, or null when dismissed.
 */
export function confirmAction({ title, body, confirm, danger = false, reason = true }) {
  return new Promise((resolve) => {
    const input = reason ? h('input', { type: 'text', name: 'reason', maxlength: '2000', placeholder: 'optional' }) : null
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'confirm-title' }, title),
        h('p', {}, body),
        input ? h('label', {}, 'Reason ', input) : null,
        h('div', { class: 'actions' }, h('button', { type: 'submit', value: 'no', class: 'ghost' }, 'Keep'), h('button', { type: 'submit', value: 'yes', class: danger ? 'danger' : 'primary' }, confirm)),
      ),
    )
    dialog.addEventListener('close', () => {
      const yes = dialog.returnValue === 'yes'
      const value = input?.value.trim()
      dialog.remove()
      resolve(yes ? { reason: value || undefined } : null)
    })
    document.body.append(dialog)
    dialog.showModal()
  })
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/'
  const [path, search = ''] = hash.split('?')
  const params = new URLSearchParams(search)
  current?.()
  current = null
  listeners.clear()
  for (const link of document.querySelectorAll('[data-nav]')) {
    const active = link.dataset.nav === (path.startsWith('/runs') ? 'runs' : 'overview')
    if (active) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  replace(main)
  const runMatch = /^\/runs\/([^/]+)$/.exec(path)
  if (runMatch) current = renderRun(main, decodeURIComponent(runMatch[1]))
  else if (path === '/runs') current = renderRuns(main, params)
  else current = renderOverview(main)
}

function connectEvents() {
  const live = document.getElementById('live')
  const source = new EventSource('api/events')
  source.addEventListener('ready', () => {
    live.textContent = 'live'
    live.dataset.state = 'on'
  })
  source.addEventListener('runs', (event) => {
    const changes = JSON.parse(event.data)
    for (const listener of [...listeners]) listener(changes)
  })
  source.addEventListener('error', () => {
    live.textContent = 'reconnecting'
    live.dataset.state = 'off'
  })
}

const THEMES = ['auto', 'light', 'dark']
function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme
  else document.documentElement.dataset.theme = theme
  const button = document.getElementById('theme')
  button.textContent = theme === 'auto' ? '◐ Auto' : theme === 'light' ? '☀ Light' : '☾ Dark'
  button.setAttribute('aria-label', `Theme: ${theme}. Switch theme`)
}
function setupTheme() {
  let theme = localStorage.getItem('errand-theme') ?? 'auto'
  applyTheme(theme)
  document.getElementById('theme').addEventListener('click', () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length]
    localStorage.setItem('errand-theme', theme)
    applyTheme(theme)
  })
}

setupTheme()
// The skip link must not change the hash: the hash is the route.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault()
  main.focus()
})
window.addEventListener('hashchange', () => {
  route()
  main.focus({ preventScroll: true })
})
route()
connectEvents()
