import type { PeersConfig } from './config.js'
import type { Table } from './report.js'
import type { Summary } from './summary.js'
export function writeDocs(_tables: Table[], _summaries: Summary[], _config: PeersConfig, _startedAt: Date): void {}
