// The OpenAPI document is a contract a client can be generated from: openapi-typescript turns the
// running server's document into types, a small openapi-fetch client written against them
// typechecks with tsc --noEmit (it reads session_token, task status and ids through the generated
// types, so a generic `data: {}` fails), and then runs a task round trip against the real server.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { type Child, runToEnd, serverUrl, spawnTasklab, tempDir } from '../helpers/proc'

let db: TestDatabase
let dir: string
let server: Child

beforeAll(async () => {
  db = await createTestDatabase()
  dir = await tempDir('client')
})

afterAll(async () => {
  server?.proc.kill('SIGKILL')
  await db?.drop()
})

const CLIENT = `
import createClient from 'openapi-fetch'
import type { components, paths } from './schema'

type Task = components['schemas']['Task']

const api = createClient<paths>({ baseUrl: process.env.BASE_URL })
const username = \`client\${Date.now()}\`
const password = 'a-long-enough-password'

const reg = await api.POST('/api/v1/auth/register', {
  body: { username, email: \`\${username}@example.com\`, password },
})
if (!reg.data) throw new Error(\`register: \${reg.error?.error.message}\`)
const role: 'user' | 'admin' = reg.data.data.role

const login = await api.POST('/api/v1/auth/login', { body: { username, password } })
if (!login.data) throw new Error(\`login: \${login.error?.error.message}\`)
const token: string = login.data.data.session_token
const headers = { authorization: \`Bearer \${token}\` }

const types = await api.GET('/api/v1/tasks/types/{type}', { params: { path: { type: 'delay_task' } } })
const breaker: 'closed' | 'open' | 'half_open' | undefined = types.data?.data.breaker.state

const created = await api.POST('/api/v1/tasks', {
  headers,
  body: { task_type: 'delay_task', payload: { delay_seconds: 0 }, priority: 'high' },
})
if (!created.data) throw new Error(\`create: \${created.error?.error.message}\`)
const id: string = created.data.data.id

let task: Task | undefined
for (let i = 0; i < 200 && task?.status !== 'completed'; i++) {
  const got = await api.GET('/api/v1/tasks/{id}', { headers, params: { path: { id } } })
  task = got.data?.data
  if (task?.status !== 'completed') await new Promise((r) => setTimeout(r, 50))
}
const list = await api.GET('/api/v1/tasks', { headers, params: { query: { status: 'completed' } } })
const total: number | undefined = list.data?.meta.total
const events = await api.GET('/api/v1/tasks/{id}/events', { headers, params: { path: { id } } })
const path = events.data?.data.map((e) => \`\${e.from_status ?? 'new'}>\${e.to_status}\`)

console.log(JSON.stringify({ role, breaker, status: task?.status, attempt: task?.current_attempt, total, path }))
`

test('a client generated from /openapi.json typechecks and runs a task round trip', async () => {
  server = spawnTasklab(['start', '--port', '0'], {
    env: { DATABASE_URL: db.url, STARTER__DATA_DIR: dir, STARTER__LOG__LEVEL: 'warn' },
  })
  const base = await serverUrl(server)
  const project = join(dir, 'client')
  await mkdir(project)
  await symlink(resolve('node_modules'), join(project, 'node_modules'))
  const spec = await (await fetch(`${base}/api/v1/openapi.json`)).text()
  await writeFile(join(project, 'openapi.json'), spec)
  await writeFile(join(project, 'client.ts'), CLIENT)
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ESNext',
        module: 'Preserve',
        moduleResolution: 'bundler',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['bun'],
      },
      include: ['client.ts', 'schema.d.ts'],
    }),
  )
  const run = (cmd: string[], env: Record<string, string> = {}) =>
    runToEnd(cmd, { cwd: project, env: { ...process.env, ...env } })
  const bin = (name: string) => resolve('node_modules/.bin', name)

  const gen = await run([bin('openapi-typescript'), 'openapi.json', '-o', 'schema.d.ts'])
  expect({ code: gen.code, err: gen.code ? gen.err : '' }).toEqual({ code: 0, err: '' })
  const tsc = await run([bin('tsc'), '--noEmit', '-p', '.'])
  expect({ code: tsc.code, out: tsc.out.trim() }).toEqual({ code: 0, out: '' })

  const client = await run([process.execPath, 'client.ts'], { BASE_URL: base })
  expect({ code: client.code, err: client.code ? client.err : '' }).toEqual({ code: 0, err: '' })
  expect(JSON.parse(client.out.trim())).toEqual({
    role: 'user',
    breaker: 'closed',
    status: 'completed',
    attempt: 1,
    total: 1,
    path: ['new>pending', 'pending>running', 'running>completed'],
  })
}, 90_000)
