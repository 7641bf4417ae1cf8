// The promise of the embedded PostgreSQL, with real processes: the compiled binary, copied alone
// into an empty folder, with HOME inside a 0700 folder and no database URL, runs a real server that
// psql reaches at the printed URL; a separate `tasklab worker` joins it; SKIP LOCKED really skips a
// row psql holds; a worker killed mid-drain loses nothing; the chaos lab restarts the server for
// real; a kill -9 of tasklab loses nothing and its leftover server is taken over; a crashed server
// is restarted; SIGTERM leaves no postgres behind. Run as the test's user (root here, as on CI) and,
// when that is root, again as an unprivileged user.
import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { isAlive, readPostmasterPid } from '../../src/db/pg-process'
import { type Child, compiledBinary, holdLock, spawnTasklab, tail, tempDir, waitFor } from '../helpers/proc'

const NOBODY = 65534
const asRoot = process.getuid?.() === 0
const users: [string, number | undefined][] = asRoot
  ? [
      ['root', undefined],
      ['an unprivileged user', NOBODY],
    ]
  : [['this user', undefined]]

const cleanup: (() => void | Promise<void>)[] = []
// Removing two data dirs with their extracted servers takes ~3 s each on this busy disk.
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
}, 60_000)

interface Envelope<T> {
  success: boolean
  data: T
  error?: { code: string; message: string }
}

/** psql when installed (the point: a user's own tool reaches the server); else postgres.js on the same URL. */
const PSQL = Bun.which('psql')

async function query(url: string, text: string): Promise<string> {
  if (!PSQL) {
    const sql = postgres(url, { max: 1, onnotice: () => {} })
    try {
      const rows = await sql.unsafe(text).values()
      return rows.map((r) => r.join('|')).join('\n')
    } finally {
      await sql.end()
    }
  }
  const proc = Bun.spawn([PSQL, url, '-At', '-v', 'ON_ERROR_STOP=1', '-c', text], {
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`psql failed (${code}): ${err}`)
  return out.trim()
}

/** An open psql session holding `FOR UPDATE` on one task row until released. */
async function lockRow(url: string, id: string): Promise<() => Promise<void>> {
  if (!PSQL) {
    const sql = postgres(url, { max: 1, onnotice: () => {} })
    const release = await holdLock(sql, `SELECT id FROM tasks WHERE id = '${id}' FOR UPDATE`)
    return async () => {
      await release()
      await sql.end()
    }
  }
  const proc = Bun.spawn([PSQL, url, '-At', '-v', 'ON_ERROR_STOP=1'], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  proc.stdin.write(`BEGIN;\nSELECT id FROM tasks WHERE id = '${id}' FOR UPDATE;\n`)
  proc.stdin.flush()
  const reader = proc.stdout.getReader()
  let out = ''
  while (!out.includes(id)) {
    const { done, value } = await reader.read()
    if (done) throw new Error(`psql exited before locking the row: ${await new Response(proc.stderr).text()}`)
    out += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return async () => {
    proc.stdin.write('COMMIT;\n')
    proc.stdin.end()
    expect(await proc.exited).toBe(0)
  }
}

describe.each(users)('the compiled binary as %s, no database URL', (_who, uid) => {
  let folder: string
  let home: string
  let bin: string
  const children: Child[] = []

  const dataDir = () => join(home, '.local', 'share', 'tasklab')
  const pgdata = () => join(dataDir(), 'pgdata')

  const setup = async () => {
    folder = await tempDir('embedded-bin')
    // HOME inside a 0700 folder, as root's /root is: an unprivileged server could not even enter it.
    const locked = await tempDir('embedded-private')
    home = join(locked, 'home')
    mkdirSync(home)
    bin = join(folder, 'tasklab')
    copyFileSync(await compiledBinary(), bin)
    chmodSync(bin, 0o755)
    if (uid !== undefined) for (const d of [folder, locked, home]) chownSync(d, uid, uid)
    chmodSync(locked, 0o700)
    cleanup.push(async () => {
      for (const c of children) c.proc.kill('SIGKILL')
      await Promise.all(children.map((c) => c.exited))
      const left = readPostmasterPid(pgdata())
      if (left && isAlive(left.pid)) process.kill(left.pid, 'SIGQUIT')
      rmSync(folder, { recursive: true, force: true })
      rmSync(locked, { recursive: true, force: true })
    })
  }

  function run(args: string[]): Child {
    const child = spawnTasklab(args, {
      command: [bin],
      cwd: folder,
      uid,
      // XDG_DATA_HOME='' falls back to HOME (an empty value means unset, as the XDG spec says).
      env: {
        HOME: home,
        XDG_DATA_HOME: '',
        PATH: '/usr/bin:/bin:/usr/sbin:/sbin',
        STARTER__WORKER__POLL_INTERVAL_SECS: '1',
        STARTER__WORKER__LEASE_SECS: '2',
      },
      label: args.join(' '),
    })
    children.push(child)
    return child
  }

  async function start(): Promise<{ child: Child; base: string; dbUrl: string; ms: number }> {
    const began = performance.now()
    const child = run(['start', '--port', '0'])
    const banner = await waitFor(
      'tasklab start to print its banner',
      () => {
        if (child.hasExited()) throw new Error(`tasklab start exited\n${tail(child.output())}`)
        const api = child.output().match(/API: (http:\/\/\S+)\/api\/v1/)
        const db = child.output().match(/database: (postgres:\/\/\S+)/)
        return api && db && child.output().includes('  chaos: ')
          ? { base: api[1]!, dbUrl: db[1]! }
          : undefined
      },
      { timeoutMs: 60_000, intervalMs: 25 },
    )
    return { child, ...banner, ms: Math.round(performance.now() - began) }
  }

  async function call<T>(base: string, method: string, path: string, body?: unknown, token?: string) {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Envelope<T> }
  }

  async function signUp(base: string): Promise<string> {
    const user = {
      username: 'embedded_user',
      email: 'embedded@example.com',
      password: 'a long enough password',
    }
    expect((await call(base, 'POST', '/auth/register', user)).status).toBe(201)
    const login = await call<{ session_token: string }>(base, 'POST', '/auth/login', {
      username: user.username,
      password: user.password,
    })
    return login.body.data.session_token
  }

  async function createDelays(base: string, token: string, n: number, seconds: number, at?: Date) {
    const tasks = Array.from({ length: n }, () => ({
      task_type: 'delay_task',
      payload: { delay_seconds: seconds },
      ...(at && { scheduled_at: at.toISOString() }),
    }))
    const res = await call<{ id: string }[]>(base, 'POST', '/tasks/batch', { tasks }, token)
    expect(res.status).toBe(201)
    return res.body.data.map((t) => t.id)
  }

  const counts = async (url: string) =>
    Object.fromEntries(
      (await query(url, 'SELECT status, count(*) FROM tasks GROUP BY status ORDER BY 1'))
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.split('|')[0], Number(l.split('|')[1])]),
    ) as Record<string, number>

  test('runs, is shared, survives kills and restarts, and leaves nothing behind', async () => {
    await setup()
    const first = await start()
    const { base, dbUrl } = first
    // psql reaches the real server at the printed URL.
    expect(dbUrl).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/tasklab$/)
    expect(Number(await query(dbUrl, 'SHOW server_version_num'))).toBeGreaterThanOrEqual(180000)
    const pm = readPostmasterPid(pgdata())!
    expect(isAlive(pm.pid)).toBe(true)
    const token = await signUp(base)

    // A second start on the same data dir is refused, naming the holder.
    const second = run(['start', '--port', '0'])
    expect(await second.waitExit(60_000)).toBe(1)
    expect(second.output()).toContain(`is in use by another tasklab (pid ${first.child.pid}`)

    // A separate worker joins the running server and shows in GET /workers.
    const worker = run(['worker', '--id', '2'])
    const joined = await waitFor(
      'the separate worker in GET /workers',
      async () => {
        const list = await call<{ id: string; pid: number }[]>(base, 'GET', '/workers', undefined, token)
        return list.body.data.find((w) => w.pid === worker.pid)
      },
      { timeoutMs: 30_000, detail: () => tail(worker.output()) },
    )
    expect(joined.id).toContain('-w2')

    // SKIP LOCKED skips a row psql holds: the other tasks complete around it.
    const due = new Date(Date.now() + 2000)
    const [held, ...rest] = await createDelays(base, token, 21, 0.01, due)
    const release = await lockRow(dbUrl, held!)
    await waitFor('the 20 unlocked tasks to complete', async () => (await counts(dbUrl)).completed === 20, {
      timeoutMs: 30_000,
      detail: async () => JSON.stringify(await counts(dbUrl)),
    })
    expect(await query(dbUrl, `SELECT status FROM tasks WHERE id = '${held}'`)).toBe('scheduled')
    await release()
    await waitFor(
      'the held task to complete once released',
      async () => (await counts(dbUrl)).completed === 21,
      {
        timeoutMs: 30_000,
      },
    )
    expect(rest).toHaveLength(20)

    // kill -9 the separate worker mid-drain: its tasks are rescued and every task completes.
    await createDelays(base, token, 60, 0.3)
    await waitFor(
      'the separate worker to be running tasks',
      async () =>
        Number(
          await query(
            dbUrl,
            `SELECT count(*) FROM tasks WHERE status = 'running' AND locked_by = '${joined.id}'`,
          ),
        ) > 0,
      { timeoutMs: 30_000 },
    )
    worker.proc.kill('SIGKILL')
    await worker.exited
    await waitFor(
      'every task to complete after the worker was killed',
      async () => (await counts(dbUrl)).completed === 81,
      {
        timeoutMs: 60_000,
        detail: async () => JSON.stringify(await counts(dbUrl)),
      },
    )

    // The chaos lab, with no database URL, spawns its cluster on this server and really restarts it.
    const chaos = run(['chaos', 'db-restart', '--spawn', '--tasks', '30', '--workers', '2'])
    expect(await chaos.waitExit(120_000)).toBe(0)
    expect(chaos.output()).toContain('restarting the embedded PostgreSQL')
    expect(chaos.output()).toContain('verdict: PASS')
    const afterChaos = readPostmasterPid(pgdata())!
    expect(afterChaos.pid).not.toBe(pm.pid)
    expect(afterChaos.port).toBe(pm.port)

    // A crash of the server (kill -9 of the postmaster) is reported and the server restarted.
    process.kill(afterChaos.pid, 'SIGKILL')
    await waitFor(
      'the crashed server to be restarted',
      () => {
        const now = readPostmasterPid(pgdata())
        return now && now.pid !== afterChaos.pid && now.status === 'ready' && isAlive(now.pid)
      },
      { timeoutMs: 30_000, detail: () => tail(first.child.output()) },
    )
    expect(first.child.output()).toContain('the embedded PostgreSQL exited unexpectedly; restarting it')
    await waitFor('the API to be ready again', async () => (await fetch(`${base}/api/v1/health/ready`)).ok, {
      timeoutMs: 30_000,
    })

    // kill -9 tasklab: its server stays behind; the next start takes it over and finds every task.
    const orphan = readPostmasterPid(pgdata())!
    first.child.proc.kill('SIGKILL')
    await first.child.exited
    expect(isAlive(orphan.pid)).toBe(true)
    const again = await start()
    expect(isAlive(orphan.pid)).toBe(false)
    expect(Number(await query(again.dbUrl, 'SELECT count(*) FROM tasks'))).toBe(81)
    expect((await counts(again.dbUrl)).completed).toBe(81)

    // SIGTERM: drained, and the server stopped with it: no postgres process left.
    const last = readPostmasterPid(pgdata())!
    again.child.proc.kill('SIGTERM')
    expect(await again.child.waitExit(30_000)).toBe(0)
    expect(isAlive(last.pid)).toBe(false)
    expect(existsSync(join(pgdata(), 'postmaster.pid'))).toBe(false)

    // Nothing to join now: a worker exits 2 with a sentence naming the fix.
    const lonely = run(['worker'])
    expect(await lonely.waitExit(30_000)).toBe(2)
    expect(lonely.output()).toContain('found no embedded PostgreSQL running')
    expect(lonely.output()).toContain('tasklab start --data-dir')
    console.log(`embedded binary: first start ${first.ms} ms, start after kill -9 ${again.ms} ms`)
  }, 300_000)
})
