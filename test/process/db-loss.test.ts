// Losing the database mid-run, two ways. First, on the suite's server: for a few seconds every
// backend of the worker (pool and LISTEN connection) is terminated repeatedly, and for part of that
// time the database refuses new connections; only this test's database is touched, the server keeps
// running. Second, a real restart of the whole server: on a private embedded PostgreSQL this test
// starts itself (never the suite's or the machine's server). Either way the worker must stay up,
// finish every task exactly once, and be woken by NOTIFY again afterwards.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { connect } from '../../src/db/connect'
import { openEmbedded, restartEmbedded, tcpUrl } from '../../src/db/embedded'
import { migrate } from '../../src/db/migrate'
import { readPostmasterPid } from '../../src/db/pg-process'
import { silentLogger } from '../../src/log'
import { createTestDatabase, type TestDatabase, urlFor } from '../helpers/db'
import { registerTypes } from '../helpers/factory'
import { delayTasks, enqueueAll } from '../helpers/load'
import {
  type Child,
  duplicateExecutions,
  readJournal,
  spawnTasklab,
  statusCounts,
  tempDir,
  waitFor,
  workerRegistered,
} from '../helpers/proc'

const TASKS = 400
const OUTAGE_MS = 4000
let db: TestDatabase
let admin: postgres.Sql
let worker: Child | undefined

beforeAll(async () => {
  db = await createTestDatabase()
  admin = postgres(urlFor('postgres'), { max: 1, onnotice: () => {} })
})

afterAll(async () => {
  worker?.proc.kill('SIGKILL')
  await admin.unsafe(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`).catch(() => {})
  await admin.end()
  await db?.drop()
})

/** Terminates every tasklab worker backend on the test database; returns how many. */
async function terminateWorkerBackends(): Promise<number> {
  const rows = await admin`
    SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
    WHERE datname = ${db.name} AND application_name LIKE 'tasklab-worker%' AND pid <> pg_backend_pid()`
  return rows.filter((r) => r.ok).length
}

test('a worker survives its backends being terminated mid-run and completes every task once', async () => {
  const dir = await tempDir('db-loss')
  const journal = join(dir, 'journal.jsonl')
  await registerTypes(db.sql, 'delay_task')
  const tasks = await enqueueAll(db.sql, delayTasks(TASKS, 0.02))
  worker = spawnTasklab(['worker'], {
    env: {
      DATABASE_URL: db.url,
      STARTER__DATA_DIR: dir,
      STARTER__WORKER__CONCURRENCY: '4',
      // Polling an hour apart: after the outage, only a re-established LISTEN wakes this worker.
      STARTER__WORKER__POLL_INTERVAL_SECS: '3600',
      STARTER__WORKER__JOURNAL_FILE: journal,
    },
  })
  await workerRegistered(db.sql, worker)
  await waitFor('the worker to be mid-run', async () => ((await statusCounts(db.sql)).completed ?? 0) >= 50, {
    timeoutMs: 20_000,
  })

  // The outage: terminate the worker's backends every 150 ms; refuse new connections in the middle.
  let terminated = 0
  const start = Date.now()
  let refused = false
  try {
    while (Date.now() - start < OUTAGE_MS) {
      const elapsed = Date.now() - start
      if (!refused && elapsed > OUTAGE_MS / 4 && elapsed < OUTAGE_MS / 2) {
        await admin.unsafe(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`)
        refused = true
      } else if (refused && elapsed >= (OUTAGE_MS * 3) / 4) {
        await admin.unsafe(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`)
        refused = false
      }
      terminated += await terminateWorkerBackends()
      await Bun.sleep(150)
    }
  } finally {
    await admin.unsafe(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`)
  }
  const midway = await statusCounts(db.sql)
  console.log(
    `db-loss: terminated ${terminated} worker backends over ${OUTAGE_MS} ms; then ${JSON.stringify(midway)}`,
  )
  expect(terminated).toBeGreaterThan(5)
  expect(midway.completed ?? 0).toBeLessThan(TASKS)

  const recoveredFrom = Date.now()
  await waitFor(
    'every task to complete after the outage',
    async () => (await statusCounts(db.sql)).completed === TASKS,
    {
      timeoutMs: 60_000,
      intervalMs: 200,
      detail: async () => `${JSON.stringify(await statusCounts(db.sql))}\n${worker!.output().slice(-3000)}`,
    },
  )
  console.log(`db-loss: the rest completed ${Date.now() - recoveredFrom} ms after the outage ended`)
  expect(worker.hasExited()).toBe(false)
  expect(worker.output()).toContain('database unreachable')
  expect(worker.output()).toContain('database connection restored')
  // An outage is a warning ("database unreachable; retrying"), not an error that pages someone.
  expect(
    worker
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":"error"')),
  ).toEqual([])

  const entries = readJournal(journal)
  expect(duplicateExecutions(entries)).toEqual([])
  const ran = new Set(entries.map((e) => e.task_id))
  expect(tasks.filter((t) => !ran.has(t.id)).length).toBe(0)
  expect(entries.length).toBe(TASKS)

  // LISTEN is back: new work is picked up long before the hour-long poll would find it.
  const more = await enqueueAll(db.sql, delayTasks(5, 0))
  await waitFor(
    'tasks enqueued after the outage to complete (woken by NOTIFY)',
    async () => {
      const rows =
        await db.sql`SELECT 1 FROM tasks WHERE id = ANY(${more.map((t) => t.id)}::uuid[]) AND status = 'completed'`
      return rows.length === 5
    },
    { timeoutMs: 15_000 },
  )
  expect(await statusCounts(db.sql)).toEqual({ completed: TASKS + 5 })

  worker.proc.kill('SIGTERM')
  expect(await worker.waitExit(15_000)).toBe(0)
}, 120_000)

test('a worker survives a real restart of its PostgreSQL server and completes every task once', async () => {
  // Short path: the server's unix socket lives in this folder.
  const dir = await tempDir('restart')
  const server = await openEmbedded(dir, silentLogger)
  // postgres.js reads the array types (task_priority[] …) when a connection opens: migrate on a
  // connection of its own, so that the test's connections open after the types exist.
  const setup = connect(server.url, { max: 1 })
  await migrate(setup)
  await setup.end()
  const sql = connect(server.url, { max: 2 })
  let child: Child | undefined
  try {
    await registerTypes(sql, 'delay_task')
    const journal = join(dir, 'journal.jsonl')
    const tasks = await enqueueAll(sql, delayTasks(200, 0.02))
    child = spawnTasklab(['worker'], {
      env: {
        DATABASE_URL: tcpUrl(Number(new URL(server.url).port)),
        STARTER__DATA_DIR: dir,
        STARTER__WORKER__CONCURRENCY: '4',
        STARTER__WORKER__POLL_INTERVAL_SECS: '3600',
        STARTER__WORKER__JOURNAL_FILE: journal,
      },
    })
    await workerRegistered(sql, child)
    await waitFor('the worker to be mid-run', async () => ((await statusCounts(sql)).completed ?? 0) >= 20, {
      timeoutMs: 20_000,
    })
    const before = readPostmasterPid(join(dir, 'pgdata'))!.pid
    const { upMs } = await restartEmbedded(dir, 2000)
    expect(readPostmasterPid(join(dir, 'pgdata'))!.pid).not.toBe(before)
    console.log(`db-loss: the server was down and back after ${upMs} ms`)
    await waitFor(
      'every task to complete after the restart',
      async () => (await statusCounts(sql)).completed === 200,
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        detail: async () => `${JSON.stringify(await statusCounts(sql))}\n${child!.output().slice(-3000)}`,
      },
    )
    expect(child.hasExited()).toBe(false)
    const entries = readJournal(journal)
    expect(duplicateExecutions(entries)).toEqual([])
    expect(new Set(entries.map((e) => e.task_id)).size).toBe(tasks.length)
    // LISTEN is back after the restart: new work is picked up long before the hour-long poll.
    await enqueueAll(sql, delayTasks(3, 0))
    await waitFor(
      'tasks enqueued after the restart (woken by NOTIFY)',
      async () => (await statusCounts(sql)).completed === 203,
      {
        timeoutMs: 15_000,
      },
    )
    child.proc.kill('SIGTERM')
    expect(await child.waitExit(15_000)).toBe(0)
  } finally {
    child?.proc.kill('SIGKILL')
    await sql.end({ timeout: 1 })
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}, 120_000)
