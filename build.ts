// Builds dist/tasklab: one executable carrying the API, the worker, the control panel and the SQL
// migrations (all imported, so the bundler embeds them). Run: bun build.ts
import { mkdir, rename, rm } from 'node:fs/promises'

import { dirname } from 'node:path'
import { buildClusterTemplate, CLUSTER_TEMPLATE_NAME } from './src/db/pglite-template'

// TASKLAB_OUTFILE lets parallel work build its own copy without clobbering dist/.
const outfile = process.env.TASKLAB_OUTFILE ?? 'dist/tasklab'
await rm(outfile, { force: true })
await mkdir(dirname(outfile), { recursive: true })

const started = performance.now()
const clusterTemplate = await embeddedClusterTemplateFile()
const result = await Bun.build({
  // The extra file is embedded as is (Bun.embeddedFiles): the embedded database's empty cluster.
  entrypoints: ['src/main.ts', clusterTemplate],
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
console.log(
  `built ${outfile} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${Math.round(performance.now() - started)} ms`,
)

/**
 * An initdb'd PGlite cluster as a tarball (src/db/pglite-template.ts), cached per PGlite version:
 * initdb takes 4-20 s here, and the result only changes with PGlite.
 */
async function embeddedClusterTemplateFile(): Promise<string> {
  const { version } = await Bun.file('node_modules/@electric-sql/pglite/package.json').json()
  const file = `node_modules/.cache/tasklab/${version}/${CLUSTER_TEMPLATE_NAME}`
  if (await Bun.file(file).exists()) return file
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}`
  await Bun.write(tmp, await buildClusterTemplate())
  await rename(tmp, file)
  return file
}
