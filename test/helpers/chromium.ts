// The one way browser tests get a Chromium. In order: CHROMIUM_PATH (must exist if set), a system
// install, then the headless Chromium that `npm install` brought in @sparticuz/chromium (a
// brotli-compressed Linux x64 build made for AWS Lambda, so it needs no system libraries beyond
// glibc). So `npm install && npm test` works on a machine with no system browser and no network.
//
// The packaged binary is inflated once per package version into the temp dir (~1.8 s, 209 MB)
// and shared by every later run and every worktree: it is written into a private folder that is
// renamed into place, so a run that races another or dies half way never launches a torn file.
import { accessSync, constants, existsSync, statSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { brotliDecompressSync } from 'node:zlib'
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core'

const SYSTEM = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/snap/bin/chromium',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
]

/** The flags every browser test runs with: no sandbox (CI runs as root), no GPU, nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export interface FoundChromium {
  path: string
  source: 'CHROMIUM_PATH' | 'system' | 'npm'
  /** Extra environment for the browser process (fonts for the packaged build). */
  env: Record<string, string>
}

let found: Promise<FoundChromium> | undefined

/** Finds (and for the npm build, inflates) a Chromium once per test process. */
export function findChromium(
  opts: { env?: string; system?: string[]; cacheDir?: string } = {},
): Promise<FoundChromium> {
  if (Object.keys(opts).length > 0) return locate(opts)
  found ??= locate({})
  return found
}

async function locate(opts: { env?: string; system?: string[]; cacheDir?: string }): Promise<FoundChromium> {
  const fromEnv = 'env' in opts ? opts.env : process.env.CHROMIUM_PATH
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH is ${fromEnv}, but no file is there.`)
    return { path: fromEnv, source: 'CHROMIUM_PATH', env: {} }
  }
  const system = (opts.system ?? SYSTEM).find(isExecutableFile)
  if (system) return { path: system, source: 'system', env: {} }
  return packaged(opts.cacheDir)
}

/** A regular file we may run: /dev/null bound over /usr/bin/chromium (hiding it) does not count. */
function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

async function packaged(cacheRoot = tmpdir()): Promise<FoundChromium> {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(
      `No Chromium found: set CHROMIUM_PATH or install one (the npm-provided build is Linux x64 only; this is ${process.platform} ${process.arch}).`,
    )
  let pkgDir: string
  try {
    pkgDir = dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium/package.json'))
  } catch {
    throw new Error('No Chromium found: set CHROMIUM_PATH, install chromium, or run npm install.')
  }
  const { version } = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as { version: string }
  const dir = join(cacheRoot, `tasklab-chromium-${version}`)
  if (!existsSync(join(dir, 'chromium'))) {
    const partial = `${dir}.partial-${process.pid}-${Date.now()}`
    await mkdir(partial, { recursive: true })
    try {
      const bin = brotliDecompressSync(await readFile(join(pkgDir, 'bin', 'chromium.br')))
      await writeFile(join(partial, 'chromium'), bin, { mode: 0o755 })
      await untar(brotliDecompressSync(await readFile(join(pkgDir, 'bin', 'fonts.tar.br'))), partial)
      // The package's own fonts.conf points at Lambda's folders; ours adds its Open Sans to the
      // system's fonts, so text has glyphs (and real widths) even where no font is installed.
      await writeFile(
        join(partial, 'fonts.conf'),
        `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
          `  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n` +
          `  <dir>${join(dir, 'fonts')}</dir>\n  <cachedir>${join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
      )
      await rename(partial, dir)
    } catch (e) {
      await rm(partial, { recursive: true, force: true })
      // Another run renamed its copy into place first: use that one.
      if (!existsSync(join(dir, 'chromium'))) throw e
    }
  }
  return { path: join(dir, 'chromium'), source: 'npm', env: { FONTCONFIG_FILE: join(dir, 'fonts.conf') } }
}

/** A minimal ustar reader: the fonts archive holds a few plain files and folders. */
async function untar(tar: Buffer, into: string): Promise<void> {
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512)
    const field = (from: number, len: number) =>
      header
        .subarray(from, from + len)
        .toString('utf8')
        .replace(/\0.*$/s, '')
    const name = field(345, 155) ? `${field(345, 155)}/${field(0, 100)}` : field(0, 100)
    if (!name) break
    const size = Number.parseInt(field(124, 12).trim() || '0', 8)
    const kind = field(156, 1)
    const target = join(into, name)
    if (!target.startsWith(into)) throw new Error(`refusing archive entry outside its folder: ${name}`)
    if (kind === '5') await mkdir(target, { recursive: true })
    else if (kind === '0' || kind === '') {
      await mkdir(dirname(target), { recursive: true })
      await writeFile(target, tar.subarray(at + 512, at + 512 + size))
    }
    at += 512 + Math.ceil(size / 512) * 512
  }
}

const launch = (c: FoundChromium) =>
  chromium.launch({
    executablePath: c.path,
    args: CHROMIUM_ARGS,
    env: { ...(process.env as Record<string, string>), ...c.env },
  })

/**
 * Launches the Chromium found above with the standard flags. A system install that will not start
 * (a distribution's wrapper whose browser is gone, a snap stub) gives way to the npm build.
 */
export async function launchChromium(): Promise<Browser> {
  const c = await findChromium()
  try {
    return await launch(c)
  } catch (err) {
    if (c.source !== 'system') throw err
    process.stderr.write(`Chromium at ${c.path} did not start; using the npm-provided one instead.\n`)
    return launch(await findChromium({ env: undefined, system: [] }))
  }
}

/** A page that records console errors and page errors into `problems`. */
export async function watchedPage(
  browser: Browser,
  problems: string[],
  opts: BrowserContextOptions = {},
): Promise<Page> {
  const page = await browser.newPage({
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
    ...opts,
  })
  page.setDefaultTimeout(15_000)
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  return page
}
