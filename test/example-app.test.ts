import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

describe('the example app (npm start)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'errand-example-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('runs a worker that completes, retries and dead-letters runs, ticks its schedule, then stops cleanly', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'examples/app.ts'], {
      env: { ...process.env, ERRAND_DB: join(dir, 'example.db'), EXAMPLE_RUN_FOR: '11s' },
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(result.status, result.stderr).toBe(0)
    const out = result.stdout
    expect(out).toMatch(/started on/)
    expect(out).toMatch(/completed  send-welcome-email/)
    expect(out).toMatch(/completed  sync-provider/)
    expect(out).toMatch(/dead       deliver-webhook .*410 Gone/)
    expect(out).toMatch(/completed  queue-report .*"tick":"[^"]+:[0-5]0\.000Z"/)
    expect(out).toMatch(/stopped/)
  }, 70_000)
})
