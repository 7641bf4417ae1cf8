// `tasklab chaos --spawn`: a throwaway cluster from this very binary — one `serve --chaos` and N
// `worker --chaos` processes against one database, with short leases so a killed worker's tasks
// come back within ~3 s instead of 30. Each worker appends to its own execution journal, from
// which the report counts attempts that ran more than once.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import postgres from 'postgres'
import { findEmbedded, tcpUrl } from '../db/embedded'
import { ApiClient } from './client'

export interface ClusterOptions {
  /**
   * Use this database as is; without it a fresh one is created on the embedded PostgreSQL running
   * in dataDir (a `tasklab start` there owns it) and dropped after.
   */
  databaseUrl?: string
  dataDir: string
  workers: number
  concurrency: number
  leaseSecs: number
  keep?: boolean
  log: (line: string) => void
  /** The parent's environment, passed through to the children minus tasklab's own settings. */
  env: Record<string, string | undefined>
}

export interface WorkerProcess {
  label: string
  proc: Subprocess
  pid: number
  /** The id the worker registered under (host-pid-wN). */
  id: string
  journal: string
  killed: boolean
}

export interface JournalEntry {
  task_id: string
  attempt: number
  worker: string
  at: number
}

/** How to start this same program: the compiled binary, or `bun src/main.ts` from source. */
export function selfCommand(): string[] {
  const compiled = Bun.main.startsWith('/$bunfs') || Bun.main.startsWith('B:\\~BUN')
  return compiled ? [process.execPath] : [process.execPath, Bun.main]
}

export class Cluster {
  readonly api: ApiClient
  readonly workers: WorkerProcess[] = []
  private server: Subprocess | undefined
  private serial = 0

  private constructor(
    private readonly opts: ClusterOptions,
    readonly dbUrl: string,
    private readonly createdDb: string | null,
    /** The embedded server's data dir, when the database lives there (db-restart restarts it). */
    readonly embeddedDir: string | undefined,
    readonly dir: string,
    url: string,
    server: Subprocess,
  ) {
    this.api = new ApiClient(url)
    this.server = server
  }

  static async start(opts: ClusterOptions): Promise<Cluster> {
    const dir = mkdtempSync(join(tmpdir(), 'tasklab-chaos-'))
    let dbUrl = opts.databaseUrl
    let createdDb: string | null = null
    let embeddedDir: string | undefined
    if (!dbUrl) {
      const server = findEmbedded(opts.dataDir, 'tasklab chaos --spawn')
      embeddedDir = server.dataDir
      createdDb = `tasklab_chaos_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
      dbUrl = tcpUrl(server.port, createdDb)
      await adminQuery(dbUrl, `CREATE DATABASE "${createdDb}"`)
      opts.log(`created database ${createdDb}`)
    }
    const env = childEnv(opts, dbUrl)
    const log = openSync(join(dir, 'server.log'), 'a')
    const server = Bun.spawn([...selfCommand(), 'serve', '--chaos', '--host', '127.0.0.1', '--port', '0'], {
      env,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: log,
    })
    closeSync(log)
    let url: string
    try {
      url = await bannerUrl(server, dir)
    } catch (err) {
      server.kill('SIGKILL')
      if (createdDb) await adminQuery(dbUrl, `DROP DATABASE IF EXISTS "${createdDb}" WITH (FORCE)`)
      throw err
    }
    const cluster = new Cluster(opts, dbUrl, createdDb, embeddedDir, dir, url, server)
    opts.log(`server ${url} (pid ${server.pid}); logs and journals in ${dir}`)
    try {
      await cluster.signInAsAdmin()
      for (let i = 0; i < opts.workers; i++) await cluster.startWorker()
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  /** A fresh admin account: registered through the API, promoted in the database we own. */
  private async signInAsAdmin(): Promise<void> {
    const name = `chaos_${Math.random().toString(36).slice(2, 10)}`
    const password = `${crypto.randomUUID()}Aa1!`
    await this.api.register(name, `${name}@chaos.invalid`, password)
    const sql = postgres(this.dbUrl, { max: 1, onnotice: () => {} })
    try {
      await sql`UPDATE users SET role = 'admin' WHERE username = ${name}`
    } finally {
      await sql.end()
    }
    await this.api.login(name, password)
  }

  async startWorker(): Promise<WorkerProcess> {
    const label = `w${++this.serial}`
    const journal = join(this.dir, `journal-${label}.jsonl`)
    const log = openSync(join(this.dir, `worker-${label}.log`), 'a')
    const proc = Bun.spawn([...selfCommand(), 'worker', '--chaos', '--id', label], {
      env: { ...childEnv(this.opts, this.dbUrl), STARTER__WORKER__JOURNAL_FILE: journal },
      stdin: 'ignore',
      stdout: log,
      stderr: log,
    })
    closeSync(log)
    const w: WorkerProcess = { label, proc, pid: proc.pid, id: '', journal, killed: false }
    this.workers.push(w)
    const deadline = Date.now() + 30_000
    while (!w.id) {
      if (proc.exitCode !== null)
        throw new Error(`worker ${label} exited with ${proc.exitCode}; see ${this.dir}/worker-${label}.log`)
      if (Date.now() > deadline)
        throw new Error(`worker ${label} (pid ${proc.pid}) did not register within 30 s`)
      const found = (await this.api.workers().catch(() => [])).find(
        (r) => r.pid === proc.pid && !r.stopped_at,
      )
      if (found) w.id = found.id
      else await Bun.sleep(100)
    }
    return w
  }

  live(): WorkerProcess[] {
    return this.workers.filter((w) => !w.killed && w.proc.exitCode === null)
  }

  /** A real kill -9 from outside. */
  sigkill(w: WorkerProcess): void {
    w.killed = true
    w.proc.kill('SIGKILL')
  }

  /** Every execution every worker of this cluster journaled, killed ones included. */
  journal(): JournalEntry[] {
    const out: JournalEntry[] = []
    for (const w of this.workers) {
      if (!existsSync(w.journal)) continue
      for (const line of readFileSync(w.journal, 'utf8').split('\n')) if (line) out.push(JSON.parse(line))
    }
    return out
  }

  /** The database's name and an admin URL for the server it lives on (db-restart needs both). */
  get database(): { name: string; adminUrl: string; embeddedDir?: string } {
    const name = decodeURIComponent(new URL(this.dbUrl).pathname.slice(1))
    return { name, adminUrl: withDatabase(this.dbUrl, 'postgres'), embeddedDir: this.embeddedDir }
  }

  async stop(): Promise<void> {
    const procs = [...this.live().map((w) => w.proc), ...(this.server ? [this.server] : [])]
    for (const p of procs) p.kill('SIGTERM')
    await Promise.race([Promise.all(procs.map((p) => p.exited)), Bun.sleep(15_000)])
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    this.server = undefined
    if (this.createdDb && !this.opts.keep) {
      await adminQuery(this.dbUrl, `DROP DATABASE IF EXISTS "${this.createdDb}" WITH (FORCE)`)
      this.opts.log(`dropped database ${this.createdDb}`)
    }
  }
}

function childEnv(opts: ClusterOptions, dbUrl: string): Record<string, string> {
  const env: Record<string, string> = {}
  // The children state their whole configuration: none of the caller's tasklab settings leak in.
  for (const [k, v] of Object.entries(opts.env))
    if (v !== undefined && !k.startsWith('STARTER__') && k !== 'DATABASE_URL') env[k] = v
  return {
    ...env,
    DATABASE_URL: dbUrl,
    STARTER__WORKER__LEASE_SECS: String(opts.leaseSecs),
    STARTER__WORKER__CONCURRENCY: String(opts.concurrency),
    // LISTEN/NOTIFY wakes workers at once; the poll only covers notifications lost in an outage.
    STARTER__WORKER__POLL_INTERVAL_SECS: '1',
    STARTER__WORKER__SHUTDOWN_GRACE_SECS: '2',
    // 100 connections on a shared server: a worker needs ~4 (claim, finish, heartbeat, listen).
    STARTER__DATABASE__POOL_SIZE: '5',
    STARTER__LOG__FORMAT: 'json',
    STARTER__LOG__LEVEL: 'warn',
  }
}

async function bannerUrl(server: Subprocess<'ignore', 'pipe', number>, dir: string): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  const reader = server.stdout.getReader()
  const deadline = setTimeout(() => server.kill('SIGKILL'), 30_000)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done)
        throw new Error(`tasklab serve exited before printing its URL; see ${dir}/server.log\n${text}`)
      text += decoder.decode(value, { stream: true })
      const m = text.match(/API: (http:\/\/\S+?)(\/api\/v1)?\s/)
      if (m) return m[1]!
    }
  } finally {
    clearTimeout(deadline)
    // Keep draining, so a chatty stdout never blocks the server on a full pipe.
    void (async () => {
      for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return
    })()
  }
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(name)}`
  return u.toString()
}

async function adminQuery(dbUrl: string, statement: string): Promise<void> {
  const admin = postgres(withDatabase(dbUrl, 'postgres'), { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(statement)
  } finally {
    await admin.end()
  }
}
