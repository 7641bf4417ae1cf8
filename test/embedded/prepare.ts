// `npm run test:embedded` runs this first: it builds the migrated PGlite template the embedded test
// databases start from (see test/helpers/embedded-db.ts), outside any test's time limit.
import { prepareEmbeddedTemplate } from '../helpers/embedded-db'

const started = performance.now()
await prepareEmbeddedTemplate()
console.log(`embedded test template ready in ${Math.round(performance.now() - started)} ms`)
