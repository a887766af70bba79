/**
 * The dashboard in a real browser (headless Chromium), against each store: it loads, shows
 * runs enqueued by another process without a reload, filters, opens runs, cancels, replays
 * one run and many with a confirmation, and never runs markup found in payloads or errors.
 */
import { spawnSync } from 'node:child_process'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineTask, type Errand } from '../src/index.js'
import { browserUnavailable, launchBrowser } from './support/browser.js'
import { waitUntil } from './support/errand.js'
import { useHttp } from './support/http.js'
import { storeKinds, type StoreSpec } from './support/stores.js'

const skipReason = browserUnavailable()
const XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
const greet = defineTask({ name: 'greet', run: async () => 'hi' })
const webhook = defineTask({
  name: 'webhook',
  maxAttempts: 1,
  run: async (payload: { fail?: string }) => {
    if (payload?.fail) throw new Error(payload.fail)
    return { ok: true }
  },
})
const register = (errand: Errand) => void errand.register({ greet, webhook })
const fast = { pollInterval: '50ms', maintenanceInterval: '100ms' } as const

function enqueueFromAnotherProcess(spec: StoreSpec, task: string, payload: unknown): string {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/enqueue-child.ts', JSON.stringify(spec), task, JSON.stringify(payload)], { encoding: 'utf8', timeout: 60_000 })
  if (result.status !== 0) throw new Error(`enqueue child failed: ${result.stderr}`)
  return result.stdout.trim()
}

describe.skipIf(skipReason !== null).each(storeKinds())('dashboard in Chromium on $name', (kind) => {
  const t = useHttp(kind, register)
  let browser: { context: BrowserContext; close(): Promise<void> }
  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
  })

  async function open(hash: string): Promise<Page> {
    const page = await browser.context.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    ;(page as Page & { errors: string[] }).errors = errors
    await page.goto(`${t.url}${hash}`)
    await page.locator('#live[data-state="on"]').waitFor({ timeout: 15_000 })
    return page
  }
  const specOf = () => t.store.spec

  it('loads the overview and shows a run enqueued by another process without reloading', async () => {
    const page = await open('#/runs')
    await page.evaluate('window.__marker = 42')
    await expect.poll(() => page.locator('tbody tr.empty').count(), { timeout: 10_000 }).toBe(1)
    const id = enqueueFromAnotherProcess(specOf(), 'greet', { from: 'another process' })
    await page.locator(`tr[data-id="${id}"]`).waitFor({ timeout: 15_000 })
    expect(await page.evaluate('window.__marker')).toBe(42)
    await page.getByRole('link', { name: 'Overview' }).click()
    await expect.poll(() => page.locator('.card.status-queued .value').textContent(), { timeout: 10_000 }).toBe('1')
    await page.locator('.chart svg').waitFor()
    expect((page as Page & { errors: string[] }).errors).toEqual([])
    await page.close()
  })

  it('filters runs by task and status', async () => {
    await t.errand.enqueue('greet', { n: 1 })
    await t.errand.enqueue('webhook', { n: 2 })
    await t.errand.enqueue('webhook', { n: 3 }, { delay: '1h' })
    const page = await open('#/runs')
    await expect.poll(() => page.locator('tbody tr[data-id]').count()).toBe(3)
    await page.getByLabel('Task').selectOption('webhook')
    await expect.poll(() => page.evaluate('location.hash')).toBe('#/runs?task=webhook')
    await expect.poll(() => page.locator('tbody tr[data-id]').count()).toBe(2)
    await page.getByLabel('Status').selectOption('scheduled')
    await expect.poll(() => page.locator('tbody tr[data-id]').count()).toBe(1)
    expect(await page.locator('tbody tr[data-id] .badge').textContent()).toBe('scheduled')
    await page.close()
  })

  it('opens a scheduled run from the list and cancels it after a confirmation', async () => {
    const run = await t.errand.enqueue('greet', { when: 'later' }, { delay: '1h' })
    const page = await open('#/runs')
    await page.locator(`tr[data-id="${run.id}"] a`).click()
    await page.getByRole('heading', { name: /greet/ }).waitFor()
    await page.getByRole('button', { name: 'Cancel…' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByLabel('Reason').fill('no longer needed')
    await dialog.getByRole('button', { name: 'Cancel run' }).click()
    await page.locator('.run-head .badge', { hasText: 'cancelled' }).waitFor()
    expect(await t.errand.runs.get(run.id)).toMatchObject({ status: 'cancelled', cancelReason: 'no longer needed' })
    await page.close()
  })

  it('replays a dead-lettered run, and many with one confirmation', async () => {
    await t.errand.worker(fast).start()
    const runs = [] as string[]
    for (let n = 0; n < 3; n++) runs.push((await t.errand.enqueue('webhook', { fail: `endpoint said 500 (#${n})` })).id)
    await waitUntil(async () => (await t.errand.runs.counts()).byStatus.dead_lettered === 3)
    const page = await open(`#/runs/${runs[0]}`)
    await page.getByText('endpoint said 500 (#0)').first().waitFor()
    await page.getByRole('button', { name: 'Replay…' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Replay run' }).click()
    await page.getByText('Replay of').waitFor()
    expect(await page.locator('.facts a.mono').textContent()).toBe(runs[0])
    await page.goto(`${t.url}#/runs?task=webhook&status=dead_lettered`)
    await page.getByRole('button', { name: 'Replay all…' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Replay runs' }).click()
    await page.getByText(/Replayed \d+ runs/).waitFor()
    const replays = (await t.errand.runs.list({ task: 'webhook', limit: 100 })).runs.filter((run) => run.replayOf !== null)
    expect(replays.length).toBeGreaterThanOrEqual(4)
    await page.close()
  })

  it('shows markup in payloads, outputs and errors as text and never runs it', async () => {
    await t.errand.worker(fast).start()
    const run = await t.errand.enqueue('webhook', { fail: XSS, note: XSS })
    await waitUntil(async () => (await t.errand.runs.get(run.id))?.status === 'dead_lettered')
    const page = await open(`#/runs/${run.id}`)
    await page.locator('pre.json', { hasText: '<script>window.__pwned = 1</script>' }).waitFor()
    await page.locator('.error-line', { hasText: '<img src=x onerror' }).first().waitFor()
    await page.goto(`${t.url}#/runs`)
    await page.locator(`tr[data-id="${run.id}"]`).waitFor()
    await page.waitForTimeout(300)
    expect(await page.evaluate('window.__pwned')).toBeUndefined()
    expect(await page.locator('script:not([src])').count()).toBe(0)
    await page.close()
  })

  it('is usable from the keyboard: skip link, then links and buttons in order', async () => {
    await t.errand.enqueue('greet', { n: 1 })
    const page = await open('#/runs')
    await page.locator('tbody tr[data-id]').first().waitFor()
    await page.keyboard.press('Tab')
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content')
    await page.keyboard.press('Enter')
    expect(await page.evaluate('document.activeElement?.id')).toBe('main')
    for (let i = 0; i < 30 && !(await page.evaluate("document.activeElement?.closest('tbody') !== null")); i++) await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.evaluate('location.hash')).toMatch(/^#\/runs\/[0-9a-f-]{36}$/)
    await page.close()
  })
})
