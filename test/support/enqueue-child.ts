/**
 * Enqueues runs from a separate process, as another service would:
 *   node --import tsx test/support/enqueue-child.ts '<store spec JSON>' '<task>' '<payload JSON>' [count]
 * Prints the new run ids, one a line.
 */
import { Errand } from '../../src/index.js'
import { openStore, type StoreSpec } from './stores.js'

const [spec, task, payload, count = '1'] = process.argv.slice(2)
const errand = new Errand({ store: openStore(JSON.parse(spec as string) as StoreSpec) })
errand.task(task as string, {}, async () => null)
for (let n = 0; n < Number(count); n++) {
  const run = await errand.enqueue(task as string, JSON.parse(payload as string))
  console.log(run.id)
}
await errand.close()
