// Enqueue throughput, as the peers measure it: N tasks one call each with `inflight` calls
// outstanding, or N tasks in sequential calls of `batch`. In-process calls the engine (and pokes
// the debounced notifier, as the API does); HTTP goes through `tasklab serve` with a user token.

import type { Sql } from '../../src/db/connect'
import { type EnqueueDefaults, enqueue, enqueueBatch, type NewTask } from '../../src/queue/enqueue'
import { Notifier } from '../../src/queue/notify'
import { defaultRetryStrategy } from '../../src/queue/retry'
import { type BenchDatabase, freshDatabase } from '../lib/db'
import { Tasklab } from '../lib/proc'
import { nowMs, runPool } from '../lib/stats'

export interface EnqueueSettings {
  n: number
  inflight: number
  batch: number
  httpClients: number
}

export interface Rate {
  perSec: number
  ms: number
  /** HTTP only: the server's CPU per task while timed, in µs (less swayed by a loaded machine). */
  serverCpuUs?: number
}

export const DEFAULTS: EnqueueDefaults = { maxAttempts: 3, retryStrategy: defaultRetryStrategy(2000, 3) }
export const NOOP: NewTask = { task_type: 'delay_task', payload: { delay_seconds: 0 } }
/** Fills a measurement's database with `n` no-op tasks, 1,000 per statement; `after` runs after
 *  each statement (e.g. to poke a worker), then the table is analyzed for the claim's plan. */
export async function fillNoop(sql: Sql, n: number, after: () => void = () => {}): Promise<void> {
  const tasks = Array.from({ length: 1000 }, () => NOOP)
  for (let k = 0; k < n; k += 1000) {
    await enqueueBatch(sql, tasks.slice(0, Math.min(1000, n - k)), { createdBy: null, defaults: DEFAULTS })
    after()
  }
  await sql`ANALYZE tasks`
}
const noop = (i: number): NewTask => ({ task_type: 'delay_task', payload: { delay_seconds: 0, i } })

async function count(db: BenchDatabase): Promise<number> {
  const [r] = await db.sql`SELECT count(*)::int AS n FROM tasks`
  return r!.n as number
}

async function timed(n: number, run: () => Promise<void>): Promise<Rate> {
  const t0 = nowMs()
  await run()
  const ms = nowMs() - t0
  return { perSec: n / (ms / 1000), ms }
}

export async function enqueueInProcess(mode: 'single' | 'batch', s: EnqueueSettings): Promise<Rate> {
  const db = await freshDatabase(s.inflight)
  const notifier = new Notifier(db.sql)
  const opts = { createdBy: null, defaults: DEFAULTS }
  try {
    let r: Rate
    if (mode === 'single') {
      const one = async (i: number) => {
        await enqueue(db.sql, noop(i), opts)
        notifier.poke()
      }
      await runPool(4 * s.inflight, s.inflight, one) // opens the pool and prepares the statements
      r = await timed(s.n, () => runPool(s.n, s.inflight, one))
    } else {
      await enqueueBatch(db.sql, [noop(-1), noop(-2)], opts)
      const tasks = Array.from({ length: s.n }, (_, i) => noop(i))
      r = await timed(s.n, async () => {
        for (let k = 0; k < s.n; k += s.batch) {
          await enqueueBatch(db.sql, tasks.slice(k, k + s.batch), opts)
          notifier.poke()
        }
      })
    }
    const expected = s.n + (mode === 'single' ? 4 * s.inflight : 2)
    if ((await count(db)) !== expected) throw new Error(`bench: enqueue ${mode}: expected ${expected} tasks`)
    return r
  } finally {
    await db.drop()
  }
}

/** Registers and logs in a bench user; null when the API has no auth routes yet. */
async function userToken(api: string): Promise<string | null> {
  const user = {
    username: `bench${Date.now()}`,
    email: `bench${Date.now()}@example.com`,
    password: 'bench-password-123',
  }
  const post = (path: string, body: unknown) =>
    fetch(`${api}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const reg = await post('/auth/register', user)
  if (reg.status === 404) return null
  const login = await post('/auth/login', { username: user.username, password: user.password })
  if (!login.ok) throw new Error(`bench: login failed: ${login.status} ${await login.text()}`)
  const body = (await login.json()) as { data: { session_token: string } }
  return body.data.session_token
}

/** HTTP enqueue through `tasklab serve`; null when the routes do not exist (yet). */
export async function enqueueHttp(
  bin: string,
  mode: 'single' | 'batch',
  s: EnqueueSettings,
): Promise<Rate | null> {
  const db = await freshDatabase(2, bin)
  const server = new Tasklab(bin, 'serve', db.url)
  try {
    await server.ready()
    const token = await userToken(server.api)
    if (!token) return null
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` }
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${server.api}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
      if (res.status === 404) return false
      if (res.status !== 201) throw new Error(`bench: POST ${path}: ${res.status} ${await res.text()}`)
      await res.arrayBuffer()
      return true
    }
    let r: Rate
    let cpu0: number
    if (mode === 'single') {
      if (!(await post('/tasks', noop(-1)))) return null
      await runPool(4 * s.httpClients, s.httpClients, (i) => post('/tasks', noop(-i)))
      cpu0 = server.cpuMs()
      r = await timed(s.n, () => runPool(s.n, s.httpClients, (i) => post('/tasks', noop(i))))
    } else {
      if (!(await post('/tasks/batch', { tasks: [noop(-1), noop(-2)] }))) return null
      const tasks = Array.from({ length: s.n }, (_, i) => noop(i))
      cpu0 = server.cpuMs()
      r = await timed(s.n, async () => {
        for (let k = 0; k < s.n; k += s.batch)
          await post('/tasks/batch', { tasks: tasks.slice(k, k + s.batch) })
      })
    }
    r.serverCpuUs = ((server.cpuMs() - cpu0) * 1000) / s.n
    const expected = s.n + (mode === 'single' ? 4 * s.httpClients + 1 : 2)
    if ((await count(db)) !== expected)
      throw new Error(`bench: HTTP enqueue ${mode}: expected ${expected} tasks`)
    return r
  } finally {
    await server.stop()
    await db.drop()
  }
}
