// Builds dist/tasklab: one executable carrying the API, the worker, the control panel and the SQL
// migrations (all imported, so the bundler embeds them). Run: bun build.ts
import { mkdir, rm } from 'node:fs/promises'

import { dirname } from 'node:path'

// TASKLAB_OUTFILE lets parallel work build its own copy without clobbering dist/.
const outfile = process.env.TASKLAB_OUTFILE ?? 'dist/tasklab'
await rm(outfile, { force: true })
await mkdir(dirname(outfile), { recursive: true })

const started = performance.now()
const result = await Bun.build({
  entrypoints: ['src/main.ts'],
  compile: { outfile },
  minify: true,
  sourcemap: 'linked',
  define: { 'process.env.NODE_ENV': '"production"' },
})
if (!result.success) {
  for (const log of result.logs) console.error(log)
  process.exit(1)
}
const size = Bun.file(outfile).size
console.log(`built ${outfile} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${Math.round(performance.now() - started)} ms`)
