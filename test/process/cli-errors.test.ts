// Mistakes on the command line, in the environment or in the database URL end in a sentence that
// names the thing to fix (and exit 2 for a bad command line, 1 for a failure at run time).
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { spawnTasklab, tempDir } from '../helpers/proc'

let db: TestDatabase
let dir: string

beforeAll(async () => {
  db = await createTestDatabase()
  dir = await tempDir('cli-errors')
})

afterAll(async () => {
  await db?.drop()
})

async function run(args: string[], env: Record<string, string> = {}) {
  const child = spawnTasklab(args, { env: { STARTER__DATA_DIR: dir, ...env } })
  const code = await child.waitExit(20_000)
  return { code, output: child.output() }
}

test('a misspelt flag: exit 2 and "did you mean --port"', async () => {
  const { code, output } = await run(['start', '--prot', '8080'])
  expect(code).toBe(2)
  expect(output).toContain('Unknown option --prot; did you mean --port? See tasklab start --help.')
})

test('help for an unknown command: exit 2 naming the commands', async () => {
  const { code, output } = await run(['help', 'bogus'])
  expect(code).toBe(2)
  expect(output).toContain(
    'No help for "bogus"; the choices are start, serve, worker, chaos, init-handler, why, admin, migrate',
  )
  expect((await run(['help', 'sevre'])).output).toContain('did you mean "serve"?')
  expect((await run(['help', 'worker'])).code).toBe(0)
})

test('a misspelt STARTER__ variable is warned about, naming the known one, and the command still runs', async () => {
  const { code, output } = await run(['migrate'], {
    DATABASE_URL: db.url,
    STARTER__WORKER__CONCURENCY: '8',
  })
  expect(code).toBe(0)
  expect(output).toContain(
    'warning: Unknown environment variable STARTER__WORKER__CONCURENCY is ignored; did you mean STARTER__WORKER__CONCURRENCY?',
  )
})

test('an unreachable database names DATABASE_URL and what failed', async () => {
  const { code, output } = await run(['migrate'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/tasklab' })
  expect(code).toBe(1)
  expect(output).toContain(
    'Could not use the database given by DATABASE_URL (postgres://postgres@127.0.0.1:1/tasklab): the connection was refused',
  )
  const flag = await run(['worker', '--database-url', 'postgres://u:secret@127.0.0.1:1/x'])
  expect(flag.code).toBe(1)
  expect(flag.output).toContain(
    'Could not use the database given by --database-url (postgres://u:***@127.0.0.1:1/x)',
  )
  expect(flag.output).not.toContain('secret')
})
