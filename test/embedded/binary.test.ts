// The promise of the embedded database: the compiled binary, copied alone into an empty folder, on
// a machine where HOME is fresh and no DATABASE_URL is set, creates its own PostgreSQL, runs tasks
// submitted through the API, keeps its data across a SIGTERM restart and a kill -9, and refuses a
// second process on the same data directory with a sentence that says what to do.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { chmod, copyFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { type Child, compiledBinary, spawnTasklab, tempDir, waitFor } from '../helpers/proc'

let folder: string
let home: string
let bin: string
const children: Child[] = []

beforeAll(async () => {
  folder = await tempDir('embedded-bin')
  home = await tempDir('embedded-home')
  bin = join(folder, 'tasklab')
  await copyFile(await compiledBinary(), bin)
  await chmod(bin, 0o755)
})

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await Promise.all(children.map((c) => c.exited))
  await rm(folder, { recursive: true, force: true })
  await rm(home, { recursive: true, force: true })
})

/** The copied binary, from its own folder, with a fresh HOME and no database settings. */
function run(args: string[]): Child {
  const child = spawnTasklab(args, {
    command: [bin],
    cwd: folder,
    // XDG_DATA_HOME='' falls back to HOME (an empty value means unset, as the XDG spec says).
    env: { HOME: home, XDG_DATA_HOME: '', PATH: '/usr/bin:/bin', STARTER__WORKER__POLL_INTERVAL_SECS: '1' },
    label: args.join(' '),
  })
  children.push(child)
  return child
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  await new Promise((r) => server.close(r))
  return port
}

interface Envelope<T> {
  success: boolean
  data: T
  error?: { code: string; message: string }
}

async function call<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: Envelope<T> }> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Envelope<T> }
}

/** Starts `tasklab start` on a free port and waits for its banner and API; returns the base URL and ms taken. */
async function start(timeoutMs: number): Promise<{ child: Child; base: string; ms: number }> {
  const port = await freePort()
  const began = performance.now()
  const child = run(['start', '--port', String(port)])
  const base = `http://127.0.0.1:${port}`
  await waitFor(
    'tasklab start to answer /api/v1/health',
    async () => {
      if (child.proc.exitCode !== null)
        throw new Error(`tasklab start exited with ${child.proc.exitCode}\n${child.output()}`)
      // The banner comes once the worker runs too, a moment after the API answers.
      if (!child.output().includes('  database: ')) return false
      return fetch(`${base}/api/v1/health`).then(
        (r) => r.ok,
        () => false,
      )
    },
    { timeoutMs, intervalMs: 50, detail: () => child.output() },
  )
  return { child, base, ms: Math.round(performance.now() - began) }
}

const dataDir = () => join(home, '.local', 'share', 'tasklab')

test('runs with no database installed, keeps its tasks across SIGTERM and kill -9, and allows one process per data dir', async () => {
  // First start: initdb (4-20 s on this 2-core machine, depending on what else runs).
  const first = await start(120_000)
  expect(first.child.output()).toContain(`database: embedded at ${dataDir()}`)
  // The binary carries an initialised cluster: no initdb at first start.
  expect(first.child.output()).toContain('"from":"built-in cluster"')
  expect(existsSync(join(dataDir(), 'pgdata', 'PG_VERSION'))).toBe(true)

  const user = {
    username: 'embedded_user',
    email: 'embedded@example.com',
    password: 'a long enough password',
  }
  expect((await call(first.base, 'POST', '/auth/register', user)).status).toBe(201)
  const login = await call<{ session_token: string }>(first.base, 'POST', '/auth/login', {
    username: user.username,
    password: user.password,
  })
  expect(login.status).toBe(200)
  const token = login.body.data.session_token

  const ids: string[] = []
  for (let i = 1; i <= 5; i++) {
    const res = await call<{ id: string }>(
      first.base,
      'POST',
      '/tasks',
      { task_type: 'data_processing', payload: { operation: 'sum', data: [i, i, i] } },
      token,
    )
    expect(res.status).toBe(201)
    ids.push(res.body.data.id)
  }
  const finished = async (base: string) => {
    const rows = await Promise.all(
      ids.map((id) =>
        call<{ status: string; result: { result: number } }>(base, 'GET', `/tasks/${id}`, undefined, token),
      ),
    )
    return rows.map((r) => [r.body.data.status, r.body.data.result?.result])
  }
  await waitFor(
    'the 5 tasks to complete',
    async () => (await finished(first.base)).every(([s]) => s === 'completed'),
    {
      timeoutMs: 20_000,
      detail: async () => JSON.stringify(await finished(first.base)),
    },
  )

  // A second process on the same data dir is refused at once, naming the holder and the ways out.
  const second = run(['start', '--port', String(await freePort())])
  expect(await second.waitExit(60_000)).toBe(1)
  expect(second.output()).toContain(
    `The embedded database at ${dataDir()} is in use by another tasklab (pid ${first.child.pid}`,
  )
  expect(second.output()).toContain('DATABASE_URL')
  // A standalone worker cannot share the embedded database: exit 2 with the fix.
  const worker = run(['worker', '--id', '1'])
  expect(await worker.waitExit(30_000)).toBe(2)
  expect(worker.output()).toContain('set DATABASE_URL')
  expect(worker.output()).toContain('tasklab start')
  // The refused processes left the first one's lock in place and its API working.
  expect(existsSync(join(dataDir(), 'tasklab.lock'))).toBe(true)
  expect((await fetch(`${first.base}/api/v1/health`)).ok).toBe(true)

  first.child.proc.kill('SIGTERM')
  expect(await first.child.waitExit(30_000)).toBe(0)
  expect(existsSync(join(dataDir(), 'tasklab.lock'))).toBe(false)

  const again = await start(60_000)
  expect(await finished(again.base)).toEqual([1, 2, 3, 4, 5].map((i) => ['completed', 3 * i]))
  // The session survived too: it is a row in the embedded database like everything else.
  const list = await call<unknown[]>(again.base, 'GET', '/tasks?limit=50', undefined, token)
  expect(list.body.data).toHaveLength(5)
  // kill -9: no clean shutdown, a stale lock and socket left behind. The next start takes both
  // over and finds every committed row.
  again.child.proc.kill('SIGKILL')
  await again.child.exited
  expect(existsSync(join(dataDir(), 'tasklab.lock'))).toBe(true)
  const third = await start(60_000)
  expect(await finished(third.base)).toEqual([1, 2, 3, 4, 5].map((i) => ['completed', 3 * i]))
  third.child.proc.kill('SIGTERM')
  expect(await third.child.waitExit(30_000)).toBe(0)
  console.log(
    `embedded binary: first start ${first.ms} ms, later starts ${again.ms} ms, ${third.ms} ms after kill -9`,
  )
}, 300_000)
