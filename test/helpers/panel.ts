// The compiled binary serving the panel on a free port with a fresh database, its admin signed in
// through the one-time link (exchanged by the API, so the panel does not ask for a password), and
// a client for the public API with that session.
import type { Page } from 'playwright-core'
import { createTestDatabase, type TestDatabase } from './db'
import { type Child, compiledBinary, spawnTasklab, tail, tempDir, waitFor } from './proc'

export interface PanelServer {
  db: TestDatabase
  server: Child
  base: string
  token: string
  adminId: string
  api<T>(method: string, path: string, body?: unknown): Promise<T>
  /** Opens the panel in `page`, signed in as the admin. */
  signIn(page: Page): Promise<void>
  stop(): Promise<void>
}

export async function startPanelServer(label: string, args: string[] = []): Promise<PanelServer> {
  const [db, bin, dir] = await Promise.all([createTestDatabase(), compiledBinary(), tempDir(label)])
  const server = spawnTasklab(['start', ...args], {
    command: [bin],
    cwd: dir,
    label: `start (${label})`,
    env: { DATABASE_URL: db.url, STARTER__SERVER__PORT: '0', STARTER__DATA_DIR: dir },
  })
  const link = await waitFor(
    'the admin link',
    () => /(http:\/\/\S+\/\?login=\S+)/.exec(server.output())?.[1],
    {
      timeoutMs: 30_000,
      detail: () => tail(server.output()),
    },
  )
  const base = new URL(link).origin
  const res = await fetch(`${base}/api/v1/auth/login-link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: new URL(link).searchParams.get('login') }),
  })
  const session = ((await res.json()) as { data: { session_token: string; user: { id: string } } }).data
  const token = session.session_token
  return {
    db,
    server,
    base,
    token,
    adminId: session.user.id,
    async api<T>(method: string, path: string, body?: unknown): Promise<T> {
      const r = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      })
      const json = (await r.json()) as { data: T }
      if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(json)}`)
      return json.data
    },
    async signIn(page) {
      await page.goto(base)
      await page.evaluate((t) => localStorage.setItem('tasklab.token', t), token)
      await page.goto(base)
    },
    async stop() {
      server.proc.kill('SIGTERM')
      await server.waitExit(15_000).catch(() => server.proc.kill('SIGKILL'))
      await db.drop()
    },
  }
}
