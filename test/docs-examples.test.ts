/**
 * Every code block in README.md and docs/ marked `<!-- test: runs -->` is run as written,
 * in a fresh directory, with `errand` resolved to this checkout's sources.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '..')
const files = ['README.md', ...readdirSync(join(root, 'docs'), { recursive: true }).map(String).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))]

function runnableBlocks(file: string): Array<{ name: string; code: string }> {
  const text = readFileSync(join(root, file), 'utf8')
  const blocks: Array<{ name: string; code: string }> = []
  const pattern = /<!-- test: runs -->\s*```ts\n([\s\S]*?)```/g
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const line = text.slice(0, match.index).split('\n').length
    blocks.push({ name: `${file}:${line}`, code: match[1] as string })
  }
  return blocks
}

const examples = files.flatMap(runnableBlocks)

describe('documentation examples', () => {
  it('finds examples to run', () => {
    expect(examples.length).toBeGreaterThan(0)
  })

  it.each(examples)('$name runs as written', ({ code }) => {
    // Inside the checkout, so the example's own imports (zod...) resolve from its node_modules.
    mkdirSync(join(root, '.tmp'), { recursive: true })
    const dir = mkdtempSync(join(root, '.tmp', 'doc-'))
    try {
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }')
      writeFileSync(join(dir, 'example.ts'), code)
      const result = spawnSync(process.execPath, ['--import', join(root, 'node_modules/tsx/dist/esm/index.mjs'), 'example.ts'], {
        cwd: dir,
        env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
        encoding: 'utf8',
        timeout: 60_000,
      })
      expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 70_000)
})
