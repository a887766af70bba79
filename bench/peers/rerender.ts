/**
 * Renders the tables (and with PEERS_WRITE_DOCS=1 the docs) again from a saved results file,
 * without measuring: `npx tsx rerender.ts ../results/peers-....jsonl`.
 */
import { readFileSync } from 'node:fs'
import { readConfig, type PeersConfig } from './config.js'
import { renderReport } from './report.js'
import { summarize, type Measurement } from './summary.js'

const file = process.argv[2]
if (!file) throw new Error('usage: tsx rerender.ts <results.jsonl>')
const records = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string; startedAt?: string; config?: PeersConfig })
const run = records.find((r) => r.type === 'run')
const measurements = records.filter((r) => r.type === 'measurement') as unknown as Measurement[]
await renderReport(summarize(measurements), { ...readConfig(), ...run?.config, writeDocs: process.env.PEERS_WRITE_DOCS === '1' }, new Date(run?.startedAt ?? Date.now()))
