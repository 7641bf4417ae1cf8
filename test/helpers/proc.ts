// Real tasklab processes for the process tests: spawn, capture output, signal, and wait on
// conditions with deadlines (never bare sleeps). Children get a clean environment: none of the
// caller's STARTER__* or DATABASE_URL leaks in, so each test states exactly what it configures.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Subprocess } from 'bun'
import type { Sql } from '../../src/db/connect'
import { TASKLAB_BIN } from './binary'
import { waitFor } from './wait'

/** `bun src/main.ts`, with the bun that runs the tests (PATH may not have one). */
export const SRC_COMMAND = [process.execPath, resolve('src/main.ts')]

export interface Child {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  pid: number
  /** stdout and stderr as captured so far. */
  output(): string
  exited: Promise<number>
  /** True once the process has exited, by itself or by a signal. */
  hasExited(): boolean
  /** Resolves with the exit code, or throws naming the process if it has not exited in time. */
  waitExit(timeoutMs: number): Promise<number>
}

export function cleanEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('STARTER__') && k !== 'DATABASE_URL') env[k] = v
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v
  return env
}

export function spawnTasklab(
  args: string[],
  opts: {
    env: Record<string, string | undefined>
    command?: string[]
    cwd?: string
    label?: string
    /** Run as this user (the test runs as root): the embedded-database tests try both. */
    uid?: number
    /** A process group of its own, as a shell gives a foreground command (signal it with -pid). */
    detached?: boolean
  },
): Child {
  const command = opts.command ?? SRC_COMMAND
  const proc = Bun.spawn([...command, ...args], {
    cwd: opts.cwd,
    ...(opts.uid !== undefined && { uid: opts.uid, gid: opts.uid }),
    detached: opts.detached,
    env: cleanEnv({ STARTER__LOG__FORMAT: 'json', ...opts.env }),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let text = ''
  // Both pipes must be drained or a chatty child blocks once the 64 KiB pipe buffer fills.
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      text += decoder.decode(value, { stream: true })
    }
  }
  const drained = Promise.all([drain(proc.stdout), drain(proc.stderr)]).catch(() => {})
  let exitedYet = false
  const exited = proc.exited.then(async (code) => {
    exitedYet = true
    await drained
    return code
  })
  const label = opts.label ?? args.join(' ')
  return {
    proc,
    pid: proc.pid,
    output: () => text,
    exited,
    hasExited: () => exitedYet,
    async waitExit(timeoutMs) {
      let timer: Timer | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `tasklab ${label} (pid ${proc.pid}) did not exit within ${timeoutMs} ms\n${tail(text)}`,
              ),
            ),
          timeoutMs,
        )
      })
      try {
        return await Promise.race([exited, late])
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

export function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n')
}

// The polling helper lives in wait.ts; the process tests import it from here too.
export { waitFor } from './wait'

/** The base URL a server prints in its banner (`control panel: http://…/`), once it is up. */
export function serverUrl(child: Child, timeoutMs = 20_000): Promise<string> {
  return waitFor('the server banner', () => /control panel: (http:\/\/\S+?)\/?\s/.exec(child.output())?.[1], {
    timeoutMs,
    detail: () => tail(child.output()),
  })
}

/** Runs a command to its end: exit code, stdout and stderr. */
export async function runToEnd(
  cmd: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { cwd: opts.cwd, env: opts.env ?? process.env, stdout: 'pipe', stderr: 'pipe' })
  const [code, out, err] = await Promise.all([
    p.exited,
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
  ])
  return { code, out, err }
}

/** Waits until the worker process `pid` has registered itself; returns its worker id. */
export async function workerRegistered(sql: Sql, child: Child, timeoutMs = 20_000): Promise<string> {
  return waitFor(
    `worker pid ${child.pid} to register`,
    async () => {
      if (child.hasExited())
        throw new Error(`worker pid ${child.pid} exited with ${await child.exited}\n${tail(child.output())}`)
      const [row] = await sql<
        { id: string }[]
      >`SELECT id FROM workers WHERE pid = ${child.pid} AND stopped_at IS NULL`
      return row?.id
    },
    { timeoutMs, detail: () => tail(child.output()) },
  )
}

export interface JournalEntry {
  task_id: string
  attempt: number
  worker: string
  at: number
}

/** The execution journal the workers append to (STARTER__WORKER__JOURNAL_FILE). */
export function readJournal(file: string): JournalEntry[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as JournalEntry)
}

/** (task, attempt) pairs that ran more than once. */
export function duplicateExecutions(entries: JournalEntry[]): string[] {
  const seen = new Map<string, number>()
  for (const e of entries) {
    const key = `${e.task_id}#${e.attempt}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  return [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} ran ${n} times`)
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tasklab-${prefix}-`))
}

/** Newest modification time of any file under these folders. */
function newestMtime(dirs: string[]): number {
  let newest = 0
  for (const dir of dirs) {
    if (!existsSync(dir)) continue
    for (const f of readdirSync(dir, { recursive: true, withFileTypes: true }))
      if (f.isFile()) newest = Math.max(newest, statSync(join(f.parentPath, f.name)).mtimeMs)
  }
  return newest
}

/**
 * The compiled binary: $TASKLAB_BIN when set, dist/tasklab when it is newer than the sources
 * (npm test builds it first), else a fresh build in a temp folder — a stale dist/ would test old code.
 */
let built: Promise<string> | undefined
export function compiledBinary(): Promise<string> {
  if (process.env.TASKLAB_BIN && existsSync(TASKLAB_BIN)) return Promise.resolve(TASKLAB_BIN)
  if (existsSync(TASKLAB_BIN) && statSync(TASKLAB_BIN).mtimeMs >= newestMtime(['src', 'migrations', 'web']))
    return Promise.resolve(TASKLAB_BIN)
  built ??= (async () => {
    const outfile = join(await tempDir('build'), 'tasklab')
    const build = Bun.spawn([process.execPath, resolve('build.ts')], {
      env: { ...process.env, TASKLAB_OUTFILE: outfile },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const code = await build.exited
    if (code !== 0)
      throw new Error(`bun build.ts failed (${code}): ${await new Response(build.stderr).text()}`)
    return outfile
  })()
  return built
}

/** Counts of tasks by status, e.g. {completed: 3000}. */
export async function statusCounts(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<
    { status: string; n: number }[]
  >`SELECT status::text, count(*)::int AS n FROM tasks GROUP BY status`
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}

/**
 * Runs `lock` (e.g. LOCK TABLE tasks IN SHARE MODE) in a transaction held open until release():
 * a way to freeze a worker mid-statement at a chosen point, deterministically.
 */
export async function holdLock(sql: Sql, lock: string): Promise<() => Promise<void>> {
  let release!: () => void
  const released = new Promise<void>((r) => {
    release = r
  })
  let locked!: () => void
  const held = new Promise<void>((r) => {
    locked = r
  })
  const tx = sql.begin(async (t) => {
    await t.unsafe(lock)
    locked()
    await released
  })
  await Promise.race([held, tx])
  return async () => {
    release()
    await tx
  }
}
