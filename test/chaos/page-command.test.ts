// The command the chaos page prints for the scripted scenarios runs as printed: against a real
// `tasklab start --chaos`, with the viewer's token in TASKLAB_TOKEN, a small flood passes.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { chaosCommand } from '../../web/lib/chaos-command'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { type Child, runToEnd, spawnTasklab, tail, tempDir, waitFor } from '../helpers/proc'

let db: TestDatabase
let dir: string
const children: Child[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  dir = await tempDir('page-command')
})

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await db?.drop()
})

test('the printed command names --url and --token, and quotes a real token safely', () => {
  expect(chaosCommand('http://127.0.0.1:3000')).toBe(
    'tasklab chaos flood --url http://127.0.0.1:3000 --token "$TASKLAB_TOKEN"',
  )
  expect(chaosCommand('http://h', "a'b")).toBe(`tasklab chaos flood --url http://h --token 'a'\\''b'`)
})

test('the printed command runs a flood against a running tasklab --chaos', async () => {
  const server = spawnTasklab(['start', '--chaos', '--port', '0'], {
    env: { DATABASE_URL: db.url, STARTER__DATA_DIR: dir, STARTER__LOG__LEVEL: 'warn' },
  })
  children.push(server)
  const link = await waitFor(
    'the login link',
    () => /admin login[^:]*: (http\S+)/.exec(server.output())?.[1],
    {
      timeoutMs: 20_000,
      detail: () => tail(server.output()),
    },
  )
  const { origin, searchParams } = new URL(link)
  const login = await fetch(`${origin}/api/v1/auth/login-link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: searchParams.get('login') }),
  })
  const token = ((await login.json()) as { data: { session_token: string } }).data.session_token

  // The page's command as a user pastes it into a shell, with a small task count appended.
  const command = `${chaosCommand(origin).replace(/^tasklab /, '')} --tasks 10`
  const { code, out, err } = await runToEnd(
    ['sh', '-c', `exec "$0" "$1" ${command}`, process.execPath, 'src/main.ts'],
    { env: { ...process.env, TASKLAB_TOKEN: token } },
  )
  expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' })
  expect(out).toContain('flood')
}, 60_000)
