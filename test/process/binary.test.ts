// The compiled binary, copied alone into an empty folder with no bun on PATH: it must carry its
// migrations and handlers, migrate a database it creates itself, run a worker that completes
// tasks, answer --version/--help, and refuse bad configuration with exit 2 and a sentence.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { chmod, copyFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import postgres from 'postgres'
import pkg from '../../package.json'
import { connect, type Sql } from '../../src/db/connect'
import { MIGRATIONS } from '../../src/db/migrations'
import { urlFor } from '../helpers/db'
import { enqueueAll } from '../helpers/load'
import {
  type Child,
  compiledBinary,
  duplicateExecutions,
  readJournal,
  spawnTasklab,
  statusCounts,
  tempDir,
  waitFor,
  workerRegistered,
} from '../helpers/proc'

let dir: string
let bin: string
// A database that does not exist yet: the binary creates it.
const dbName = `tasklab_t_bin_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`
const dbUrl = urlFor(dbName)
let sql: Sql | undefined
const children: Child[] = []

beforeAll(async () => {
  dir = await tempDir('binary')
  bin = join(dir, 'tasklab')
  await copyFile(await compiledBinary(), bin)
  await chmod(bin, 0o755)
})

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  await sql?.end({ timeout: 1 })
  const admin = postgres(urlFor('postgres'), { max: 1, onnotice: () => {} })
  await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
  await admin.end()
})

/** Runs the copied binary from its own folder with only system directories on PATH. */
function run(args: string[], env: Record<string, string> = {}): Child {
  const child = spawnTasklab(args, {
    command: [bin],
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', HOME: dir, STARTER__DATA_DIR: join(dir, 'data'), ...env },
  })
  children.push(child)
  return child
}

async function runToEnd(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const child = run(args, env)
  const code = await child.waitExit(30_000)
  return { code, output: child.output() }
}

test('--version and --help answer from an empty folder', async () => {
  expect(await readdir(dir)).toEqual(['tasklab'])
  expect(await runToEnd(['--version'])).toEqual({ code: 0, output: `tasklab ${pkg.version}\n` })
  const help = await runToEnd(['--help'])
  expect(help.code).toBe(0)
  for (const word of ['start', 'serve', 'worker', 'migrate', 'STARTER__WORKER__CONCURRENCY', 'DATABASE_URL'])
    expect(help.output).toContain(word)
  const workerHelp = await runToEnd(['worker', '--help'])
  expect(workerHelp.code).toBe(0)
  expect(workerHelp.output).toContain('--concurrency')
})

test('bad configuration exits 2 with one sentence naming the setting', async () => {
  const cases: [string[], Record<string, string>, string][] = [
    [['worker'], { STARTER__WORKER__CONCURRENCY: 'abc' }, 'STARTER__WORKER__CONCURRENCY'],
    [['worker', '--concurrency', 'abc'], {}, '--concurrency'],
    [['worker'], { STARTER__WORKER__POLL_INTERVAL_SECS: 'soon' }, 'STARTER__WORKER__POLL_INTERVAL_SECS'],
    [['worker'], { STARTER__WORKER__LEASE_SECS: '0' }, 'STARTER__WORKER__LEASE_SECS'],
    [['worker', '--bogus', '1'], {}, '--bogus'],
    [['frobnicate'], {}, 'frobnicate'],
  ]
  for (const [args, env, name] of cases) {
    const { code, output } = await runToEnd(args, { DATABASE_URL: dbUrl, ...env })
    expect({ args, env, code }).toEqual({ args, env, code: 2 })
    const lines = output.trim().split('\n')
    expect(lines.length).toBe(1)
    expect(lines[0]).toStartWith('tasklab: ')
    expect(lines[0]).toContain(name)
  }
})

test('migrate creates and migrates a database; a worker started from the folder completes tasks', async () => {
  const first = await runToEnd(['migrate'], { DATABASE_URL: dbUrl })
  expect(first.code).toBe(0)
  expect(first.output).toContain(`applied ${MIGRATIONS.map((m) => m.name).join(', ')}`)
  expect(await runToEnd(['migrate'], { DATABASE_URL: dbUrl })).toMatchObject({
    code: 0,
    output: expect.stringContaining('database is up to date'),
  })

  sql = connect(dbUrl, { max: 2, applicationName: 'tasklab-test' })
  const journal = join(dir, 'journal.jsonl')
  const worker = run(['worker', '--id', 'bin'], {
    DATABASE_URL: dbUrl,
    STARTER__WORKER__JOURNAL_FILE: journal,
  })
  await workerRegistered(sql, worker)
  // The worker registered the built-in types itself; enqueue two of them.
  const tasks = await enqueueAll(sql, [
    ...Array.from({ length: 20 }, () => ({ task_type: 'delay_task', payload: { delay_seconds: 0.01 } })),
    { task_type: 'data_processing', payload: { operation: 'sum', data: [1, 2, 3, 4] } },
  ])
  await waitFor(
    'the binary worker to complete 21 tasks',
    async () => (await statusCounts(sql!)).completed === 21,
    {
      timeoutMs: 30_000,
      detail: () => worker.output().slice(-2000),
    },
  )
  const [sum] = await sql`SELECT result FROM tasks WHERE id = ${tasks[20]!.id}`
  expect(sum!.result).toMatchObject({ result: 10 })
  const entries = readJournal(journal)
  expect(duplicateExecutions(entries)).toEqual([])
  expect(entries.length).toBe(21)

  worker.proc.kill('SIGTERM')
  expect(await worker.waitExit(15_000)).toBe(0)
}, 60_000)
