// A freshly initialised PGlite cluster, made at build time and carried in the binary as a 4.6 MB
// tarball, so the first start of an embedded database loads it instead of running initdb: measured
// here, first start 5.6-10.2 s and 1.05 GB peak RSS with initdb, against ~2 s and ~0.3 GB without.
// Only the empty cluster is baked in; the schema still comes from the migrations at start.
// Running from source (no binary) there is no tarball and PGlite runs initdb as before.
import { openPGlite } from './pglite'

/** The file name the build embeds and the binary looks for. */
export const CLUSTER_TEMPLATE_NAME = 'pglite-cluster.tgz'

/** Used by build.ts: initdb in memory, then the data dir as a gzipped tarball. */
export async function buildClusterTemplate(): Promise<Blob> {
  const pg = await openPGlite({})
  try {
    return await pg.dumpDataDir('gzip')
  } finally {
    await pg.close()
  }
}

/** The tarball embedded in this binary, if it is one (Bun.embeddedFiles is empty otherwise). */
export function embeddedClusterTemplate(): Blob | undefined {
  if (!Bun.isStandaloneExecutable) return undefined
  return Bun.embeddedFiles.find((f) => (f as File).name?.includes('pglite-cluster'))
}
