// Running the PostgreSQL programs: initdb once, the postmaster as a child process, and reading the
// postmaster.pid file every running server keeps in its data directory (pid, port, socket folder,
// status), which is how other tasklab processes find it and how a leftover one is recognised.
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { type PgInstall, pgProgram } from './pg-binaries'
import { PG_HBA, type Placement, settingsArgs } from './pg-settings'
import { type ServerUser, spawnAs } from './pg-user'

/**
 * Creates the cluster in a temporary folder and renames it into place, so a half-made one is never
 * used. initdb runs with --no-sync: its own fsync of ~1,000 new files took 2.9 of its 4.1 s here.
 * The caller syncs the cluster in the background once the server runs (syncInBackground).
 */
export async function initdb(
  install: PgInstall,
  user: ServerUser,
  pgdata: string,
  logFile: string,
): Promise<void> {
  const tmp = `${pgdata}.init-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  const log = openSync(logFile, 'a')
  try {
    const proc = spawnAs(
      user,
      [
        pgProgram(install, 'initdb'),
        '-D',
        tmp,
        '-U',
        'postgres',
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
        '--no-sync',
      ],
      { stdout: log, stderr: log },
    )
    if ((await proc.exited) !== 0)
      throw new Error(`initdb failed (exit ${proc.exitCode}); its output is in ${logFile}:\n${tail(logFile)}`)
  } finally {
    closeSync(log)
  }
  writeFileSync(join(tmp, 'pg_hba.conf'), PG_HBA)
  renameSync(tmp, pgdata)
}

/**
 * `initdb --sync-only`: flushes a new cluster's files to disk, as initdb would have, while the
 * server already works (it only fsyncs). Until it is done, an OS crash (not a process kill) could
 * damage the new, still empty cluster; a few seconds here.
 */
export function syncInBackground(
  install: PgInstall,
  user: ServerUser,
  pgdata: string,
  logFile: string,
): Promise<number> {
  const log = openSync(logFile, 'a')
  try {
    return spawnAs(user, [pgProgram(install, 'initdb'), '--sync-only', '-D', pgdata], {
      stdout: log,
      stderr: log,
    }).exited
  } finally {
    closeSync(log)
  }
}

export interface PostmasterInfo {
  pid: number
  port: number
  socketDir: string
  /** "starting", "ready", "stopping", "standby". */
  status: string
}

/** The server's own record of itself, present while it runs (and after a kill -9). */
export function readPostmasterPid(pgdata: string): PostmasterInfo | undefined {
  let text: string
  try {
    text = readFileSync(join(pgdata, 'postmaster.pid'), 'utf8')
  } catch {
    return undefined
  }
  const lines = text.split('\n')
  const pid = Number(lines[0])
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  return {
    pid,
    port: Number(lines[3]),
    socketDir: lines[4] ?? '',
    status: (lines[7] ?? '').trim(),
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A pid from postmaster.pid may have been reused after a reboot: check it is a postgres process. */
export function isPostgres(pid: number): boolean {
  if (!isAlive(pid)) return false
  if (process.platform !== 'linux') return true
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres'
  } catch {
    return false
  }
}

/** The running server of `pgdata`, when there is one that accepts connections. */
export function runningServer(pgdata: string): PostmasterInfo | undefined {
  const info = readPostmasterPid(pgdata)
  return info && info.status === 'ready' && isPostgres(info.pid) ? info : undefined
}

/** Stops a server by pid: fast shutdown (sessions cut, clean checkpoint), immediate after `ms`. */
export async function stopServer(pid: number, ms = 30_000): Promise<void> {
  const gone = async (until: number) => {
    while (Date.now() < until) {
      if (!isAlive(pid)) return true
      await Bun.sleep(25)
    }
    return !isAlive(pid)
  }
  try {
    process.kill(pid, 'SIGINT')
  } catch {
    return
  }
  if (await gone(Date.now() + ms)) return
  try {
    process.kill(pid, 'SIGQUIT')
  } catch {
    return
  }
  await gone(Date.now() + 5000)
}

/** `preferred` when it is free on 127.0.0.1, else one the kernel picks. */
export async function freePort(preferred?: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const srv = createServer()
      srv.once('error', () => resolve(undefined))
      srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
        const addr = srv.address()
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : undefined))
      })
    })
  if (preferred && (await tryPort(preferred))) return preferred
  const port = await tryPort(0)
  if (!port) throw new Error('no free TCP port on 127.0.0.1 for the embedded PostgreSQL')
  return port
}

export interface Postmaster {
  proc: Subprocess
  pid: number
}

/**
 * Starts the server as a child process and waits until it accepts connections (its postmaster.pid
 * says "ready"). Its output is appended to `logFile`. Throws, quoting the log, when it exits first.
 */
export async function startPostmaster(
  install: PgInstall,
  user: ServerUser,
  pgdata: string,
  placement: Placement,
  logFile: string,
  timeoutMs = 60_000,
): Promise<Postmaster> {
  const log = openSync(logFile, 'a')
  const before = existsSync(logFile) ? readFileSync(logFile).length : 0
  let proc: Subprocess
  try {
    proc = spawnAs(user, [pgProgram(install, 'postgres'), '-D', pgdata, ...settingsArgs(placement)], {
      // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and the
      // server must outlast tasklab's drain (tasklab stops it afterwards), not shut down under it.
      detached: true,
      stdout: log,
      stderr: log,
    })
  } finally {
    closeSync(log)
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new PostmasterStartError(
        `the embedded PostgreSQL exited while starting (${proc.signalCode ?? `exit ${proc.exitCode}`}):\n${tail(logFile, before)}`,
        tail(logFile, before),
      )
    const info = readPostmasterPid(pgdata)
    if (info?.pid === proc.pid && info.status === 'ready') return { proc, pid: proc.pid }
    if (Date.now() > deadline) {
      proc.kill('SIGQUIT')
      throw new Error(
        `the embedded PostgreSQL did not become ready within ${timeoutMs / 1000} s; see ${logFile}`,
      )
    }
    await Bun.sleep(10)
  }
}

export class PostmasterStartError extends Error {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(message)
  }
}

/** The end of a log file (from byte `from`), for error messages. */
export function tail(file: string, from = 0, lines = 8): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}
