// One owner per embedded database: the tasklab that runs its PostgreSQL server (others join it).
// PostgreSQL's own postmaster.pid outlives a killed tasklab whose server is still running, so
// tasklab takes a lock of its own: a pid file, written whole to a temporary
// name and then hard-linked into place (link fails if the name exists, so exactly one process wins
// and nobody ever reads a half-written file). A file left by a process that died (kill -9, power
// loss) is stale when its pid is gone, and is taken over.
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
  readonly code = 'DATA_DIR_LOCKED'
}

interface Holder {
  pid: number
  host: string
  started: string
}

export interface DataDirLock {
  file: string
  release(): void
}

export function lockDataDir(dir: string): DataDirLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, 'tasklab.lock')
  const me: Holder = { pid: process.pid, host: hostname(), started: new Date().toISOString() }
  // Two tries: the second follows the removal of a stale file.
  for (let attempt = 0; attempt < 2; attempt++) {
    const tmp = `${file}.${process.pid}`
    writeFileSync(tmp, JSON.stringify(me), { mode: 0o600 })
    try {
      linkSync(tmp, file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = readHolder(file)
      if (holder && isAlive(holder)) {
        throw new DataDirLockedError(
          `The embedded database at ${dir} is in use by another tasklab (pid ${holder.pid}, started ${holder.started}). ` +
            'Stop that one first, give this one its own --data-dir, or run both against one PostgreSQL with DATABASE_URL.',
        )
      }
      rmSync(file, { force: true })
      continue
    } finally {
      rmSync(tmp, { force: true })
    }
    return {
      file,
      release() {
        // Only remove our own file: never one a successor wrote after a stale takeover.
        if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true })
      },
    }
  }
  throw new DataDirLockedError(`Could not lock ${file}: another process keeps recreating it.`)
}

function readHolder(file: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Holder
  } catch {
    // Unreadable (removed meanwhile, or not ours): treat as stale.
    return undefined
  }
}

function isAlive(h: Holder): boolean {
  // A data dir on a shared disk locked from another machine: we cannot probe the pid, so respect it.
  if (h.host !== hostname()) return true
  if (h.pid === process.pid) return true
  try {
    process.kill(h.pid, 0)
    return true
  } catch (err) {
    // EPERM: the pid exists but belongs to another user, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
