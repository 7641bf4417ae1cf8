// An API over a fresh test database, called through app.handle (no port), with helpers to make
// users, log in and count rows.
import { createApp } from '../../src/api/app'
import { bootstrapAdmin, exchangeLoginLink } from '../../src/api/auth/sessions'
import type { ApiDeps } from '../../src/api/deps'
import { LiveFeed } from '../../src/api/events/feed'
import { loadConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { QueueEventBus } from '../../src/queue/events'
import { Notifier } from '../../src/queue/notify'
import { enqueueDefaultsOf } from '../../src/runtime'
import type { AnswerOf } from '../helpers/answer-types'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { registerTypes } from '../helpers/factory'

export const WORKER_TOKEN = 'worker-credential-for-tests-0123456789'
/** Small enough to test 413 cheaply, large enough for a payload just over the 1 MiB task limit. */
export const BODY_LIMIT = 2 * 1024 * 1024

export interface Reply<B = unknown> {
  status: number
  /** The JSON answer, typed from the OpenAPI document for this method and path (AnswerOf). */
  body: B
  text: string
  headers: Headers
}

export interface CallOptions {
  token?: string
  body?: unknown
  /** Sent as is (for malformed JSON); wins over body. */
  raw?: string
  headers?: Record<string, string>
}

export interface Harness {
  db: TestDatabase
  deps: ApiDeps
  feed: LiveFeed
  app: ReturnType<typeof createApp>
  call<M extends string, P extends string>(
    method: M,
    path: P,
    opts?: CallOptions,
  ): Promise<Reply<AnswerOf<M, P>>>
  user(name: string): Promise<{ token: string; id: string }>
  admin(): Promise<{ token: string; id: string }>
  counts(): Promise<Record<string, number>>
  close(): Promise<void>
}

export async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const db = await createTestDatabase()
  const config = loadConfig(
    {},
    { STARTER__WORKER__TOKEN: WORKER_TOKEN, STARTER__SERVER__BODY_LIMIT_BYTES: String(BODY_LIMIT), ...env },
  )
  const deps: ApiDeps = {
    config,
    log: silentLogger,
    sql: db.sql,
    events: new QueueEventBus(),
    notifier: new Notifier(db.sql),
    enqueueDefaults: enqueueDefaultsOf(config),
  }
  const feed = new LiveFeed(db.sql, silentLogger)
  const app = createApp(deps, feed)
  await registerTypes(db.sql, 'email', 'data_processing', 'delay_task')

  const call = async <M extends string, P extends string>(
    method: M,
    path: P,
    opts: CallOptions = {},
  ): Promise<Reply<AnswerOf<M, P>>> => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    let body: string | undefined
    if (opts.raw !== undefined) body = opts.raw
    else if (opts.body !== undefined) body = JSON.stringify(opts.body)
    if (body !== undefined) headers['content-type'] ??= 'application/json'
    const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, body }))
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    return { status: res.status, body: parsed as AnswerOf<M, P>, text, headers: res.headers }
  }

  const user = async (name: string) => {
    const password = `${name}-password-123`
    const r = await call('POST', '/api/v1/auth/register', {
      body: { username: name, email: `${name}@example.com`, password },
    })
    if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${r.text}`)
    const l = await call('POST', '/api/v1/auth/login', { body: { username: name, password } })
    if (l.status !== 200) throw new Error(`login ${name}: ${l.status} ${l.text}`)
    return { token: l.body.data.session_token, id: r.body.data.id }
  }

  const admin = async () => {
    const made = await bootstrapAdmin(db.sql)
    if (!made) throw new Error('an admin exists already')
    const s = await exchangeLoginLink(db.sql, made.token)
    return { token: s.session_token, id: s.user.id }
  }

  const counts = async () => {
    const [row] = await db.sql<Record<string, number>[]>`
      SELECT (SELECT count(*)::int FROM tasks) AS tasks, (SELECT count(*)::int FROM task_events) AS task_events,
             (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM sessions) AS sessions,
             (SELECT count(*)::int FROM task_types) AS task_types`
    return row!
  }

  return {
    db,
    deps,
    feed,
    app,
    call,
    user,
    admin,
    counts,
    async close() {
      feed.stop()
      await db.drop()
    },
  }
}
