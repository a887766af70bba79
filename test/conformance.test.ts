import { describeDriverConformance } from '../src/storage/conformance/index.js'
import { storeKinds } from './support/stores.js'

for (const kind of storeKinds()) describeDriverConformance(kind.name, () => kind.create())
