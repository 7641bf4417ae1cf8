// Boots PGlite (PostgreSQL compiled to WebAssembly) and serves it on a unix socket, so the same
// postgres.js client, SQL and migrations work as against a real server. The engine files are
// imported as files so `bun build --compile` carries them: +~16 MB, no download at first start.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import initdbWasm from '../../node_modules/@electric-sql/pglite/dist/initdb.wasm' with { type: 'file' }
import pgliteData from '../../node_modules/@electric-sql/pglite/dist/pglite.data' with { type: 'file' }
import pgliteWasm from '../../node_modules/@electric-sql/pglite/dist/pglite.wasm' with { type: 'file' }
import { PGliteServer } from './pglite-server'

/**
 * PGlite runs one statement at a time and its server (pglite-server.ts) lets one connection own the
 * session per cycle or transaction, so more connections add no throughput; 4 lets a transaction, the
 * heartbeat and the API each hold one without waiting for a free slot in postgres.js's pool.
 */
export const EMBEDDED_POOL_SIZE = 4
/** The socket's connection limit: the pool, postgres.js's separate LISTEN connections, `tasklab migrate`. */
export const EMBEDDED_MAX_CONNECTIONS = 16

const SOCKET_NAME = '.s.PGSQL.5432'

let modules: Promise<{ pglite: WebAssembly.Module; initdb: WebAssembly.Module }> | undefined

/** Compiled once per process (~0.3 s for 9 MB), shared by every PGlite the process opens (tests open many). */
function wasmModules() {
  modules ??= Promise.all([
    Bun.file(pgliteWasm)
      .arrayBuffer()
      .then((b) => WebAssembly.compile(b)),
    Bun.file(initdbWasm)
      .arrayBuffer()
      .then((b) => WebAssembly.compile(b)),
  ]).then(([pglite, initdb]) => ({ pglite, initdb }))
  return modules
}

export interface PGliteOpenOptions {
  /** Data directory; undefined keeps the database in memory (tests). */
  dataDir?: string
  /** A tarball from `dumpDataDir()` to start from instead of running initdb (the test template). */
  loadDataDir?: Blob
}

export async function openPGlite(opts: PGliteOpenOptions): Promise<PGlite> {
  const { pglite, initdb } = await wasmModules()
  return PGlite.create({
    dataDir: opts.dataDir,
    loadDataDir: opts.loadDataDir,
    pgliteWasmModule: pglite,
    initdbWasmModule: initdb,
    fsBundle: Bun.file(pgliteData),
  })
}

export interface SocketServer {
  /** A postgres:// URL in libpq's unix-socket form: `postgres://postgres@localhost/postgres?host=<dir>`. */
  url: string
  /** WAL flushes so far (see PGliteServer.flushWal). */
  readonly flushes: number
  stop(): Promise<void>
}

/**
 * Serves db on `<socketDir>/.s.PGSQL.5432`, only reachable by this user (the dir is 0700). Unix
 * socket paths are limited to 107 bytes on Linux (103 on macOS): for a deeper data dir the socket
 * goes to a fresh private folder under the system temp dir instead, removed on stop.
 */
export async function serveSocket(
  db: PGlite,
  socketDir: string,
  maxConnections = EMBEDDED_MAX_CONNECTIONS,
): Promise<SocketServer> {
  const short = Buffer.byteLength(`${socketDir}/${SOCKET_NAME}`) <= 100
  const dir = short ? socketDir : mkdtempSync(join(tmpdir(), 'tasklab-'))
  // A socket file left by a killed process is removed by start(): the caller holds the data-dir lock.
  const server = new PGliteServer(db, { path: `${dir}/${SOCKET_NAME}`, maxConnections })
  await server.start()
  return {
    url: `postgres://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`,
    get flushes() {
      return server.flushes
    },
    async stop() {
      await server.stop()
      if (!short) rmSync(dir, { recursive: true, force: true })
    },
  }
}
