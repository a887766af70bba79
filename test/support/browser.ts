/**
 * Headless Chromium for dashboard tests: Debian's /usr/bin/chromium driven by
 * playwright-core (which never downloads a browser). Without the binary the tests skip
 * with a message, except under CI=true, where they fail.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = process.env.ERRAND_CHROMIUM ?? '/usr/bin/chromium'

/** Null when the browser can be used; otherwise why not. Throws under CI=true. */
export function browserUnavailable(): string | null {
  if (existsSync(CHROMIUM)) return null
  const reason = `${CHROMIUM} is missing (apt-get install -y chromium)`
  if (process.env.CI === 'true') throw new Error(`Browser tests need Chromium under CI=true: ${reason}`)
  console.warn(`[errand tests] skipping the dashboard browser tests: ${reason}`)
  return reason
}

/** A browser with a fresh profile; `close()` removes the profile. */
export async function launchBrowser(options: { width?: number; height?: number; colorScheme?: 'light' | 'dark' } = {}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'errand-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    colorScheme: options.colorScheme ?? 'light',
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
