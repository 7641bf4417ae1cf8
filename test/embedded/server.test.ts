// The embedded database's socket server (src/db/pglite-server.ts) against the failure modes met
// with @electric-sql/pglite-socket: interleaved protocol cycles, clients vanishing mid-transaction,
// lost notifications, and connections over the limit hanging.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import postgres from 'postgres'
import { connect, type Sql } from '../../src/db/connect'
import { openPGlite, type SocketServer, serveSocket } from '../../src/db/pglite'
import { prepareEmbeddedTemplate } from '../helpers/embedded-db'

let pg: PGlite
let server: SocketServer
let dir: string
let sql: Sql

beforeAll(async () => {
  dir = mkdtempSync(join('/tmp', 'tlsrv-'))
  pg = await openPGlite({ loadDataDir: await prepareEmbeddedTemplate() })
  server = await serveSocket(pg, dir, 8)
  sql = connect(server.url, { max: 4 })
  // Outside `npm run test:embedded` the template may not exist yet: initdb takes 4-20 s here.
}, 120_000)

afterAll(async () => {
  await sql.end({ timeout: 1 })
  await server.stop()
  await pg.close()
  rmSync(dir, { recursive: true, force: true })
})

test('many connections at once each get their own results (no interleaved portals)', async () => {
  // 200 parameterised queries over 4 connections: with message-level interleaving, Bind/Execute of
  // one connection ran against another's portal and failed or returned the wrong row.
  const results = await Promise.all(
    Array.from(
      { length: 200 },
      (_, i) => sql<{ n: number; s: string }[]>`SELECT ${i}::int AS n, repeat('x', ${i % 7}) AS s`,
    ),
  )
  results.forEach((rows, i) => {
    expect(rows[0]!.n).toBe(i)
    expect(rows[0]!.s).toBe('x'.repeat(i % 7))
  })
})

test('transactions on different connections run one after another, each seeing its own writes', async () => {
  await sql`CREATE TABLE IF NOT EXISTS probe_tx (k int, v int)`
  await Promise.all(
    Array.from({ length: 20 }, (_, k) =>
      sql
        .begin(async (tx) => {
          await tx`INSERT INTO probe_tx VALUES (${k}, 1)`
          await Bun.sleep(1)
          const [row] = await tx<{ n: number }[]>`SELECT count(*)::int AS n FROM probe_tx WHERE k = ${k}`
          if (k % 5 === 0) throw new Error('roll me back')
          return row!.n
        })
        .catch((e: Error) => e.message),
    ),
  )
  const rows = await sql<{ k: number }[]>`SELECT k FROM probe_tx ORDER BY k`
  expect(rows.map((r) => r.k)).toEqual(Array.from({ length: 20 }, (_, k) => k).filter((k) => k % 5 !== 0))
})

test('a client that disappears inside a transaction leaves the session clean', async () => {
  const other = connect(server.url, { max: 1 })
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  const tx = other
    .begin(async (t) => {
      await t`CREATE TABLE vanished (x int)`
      release()
      await new Promise(() => {}) // never commits
    })
    .catch(() => 'gone')
  await held
  await other.end({ timeout: 0 })
  expect(await tx).toBe('gone')
  // The table was rolled back and the session is out of the transaction: others proceed.
  const [row] = await sql<{ t: string | null }[]>`SELECT to_regclass('vanished')::text AS t`
  expect(row!.t).toBeNull()
  expect(pg.isInTransaction()).toBe(false)
})

test('NOTIFY on one connection reaches LISTEN on another', async () => {
  const got: string[] = []
  const listener = await sql.listen('probe_channel', (payload) => got.push(payload))
  await sql`SELECT pg_notify('probe_channel', 'one')`
  await sql.begin(async (tx) => {
    await tx`SELECT pg_notify('probe_channel', 'two')`
  })
  const deadline = Date.now() + 5000
  while (got.length < 2 && Date.now() < deadline) await Bun.sleep(10)
  await listener.unlisten()
  expect(got).toEqual(['one', 'two'])
})

test('a connection over the limit is refused with too_many_connections, not left hanging', async () => {
  const crowd = postgres(server.url.replace(/\?.*$/, ''), {
    path: `${dir}/.s.PGSQL.5432`,
    max: 12,
    connect_timeout: 5,
    onnotice: () => {},
  })
  try {
    // The server allows 8; sql holds up to 4 and this pool opens up to 12 for 12 slow queries.
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => crowd`SELECT pg_sleep(0.05)`))
    const refused = outcomes
      .filter((o) => o.status === 'rejected')
      .map((o) => (o as PromiseRejectedResult).reason?.code)
    expect(refused.length).toBeGreaterThan(0)
    expect(new Set(refused)).toEqual(new Set(['53300']))
  } finally {
    await crowd.end({ timeout: 1 })
  }
})

test('a data dir too deep for a unix socket path serves from a private temp folder instead', async () => {
  const deep = join(dir, 'd'.repeat(60), 'e'.repeat(60))
  const other = await serveSocket(pg, deep, 4)
  try {
    expect(decodeURIComponent(new URL(other.url).searchParams.get('host')!)).not.toStartWith(deep)
    const probe = connect(other.url, { max: 1 })
    expect((await probe<{ n: number }[]>`SELECT 41 + 1 AS n`)[0]!.n).toBe(42)
    await probe.end({ timeout: 1 })
  } finally {
    await other.stop()
  }
})

test('asynchronous commits survive kill -9 once the server has flushed the WAL', async () => {
  const disk = mkdtempSync(join('/tmp', 'tlwal-'))
  try {
    const child = Bun.spawn([process.execPath, join(import.meta.dir, 'fixtures', 'async-commits.ts'), disk], {
      stdout: 'pipe',
      stderr: 'inherit',
    })
    const reader = child.stdout.getReader()
    let out = ''
    while (!out.includes('flushed')) {
      const { done, value } = await reader.read()
      if (done) throw new Error(`the child exited before flushing: ${out}`)
      out += new TextDecoder().decode(value)
    }
    child.kill('SIGKILL')
    await child.exited
    // Without the flush, PGlite (no WAL writer) lost all 50 of these commits to the kill.
    const reopened = await openPGlite({ dataDir: join(disk, 'pgdata') })
    const { rows } = await reopened.query<{ n: number }>('SELECT count(*)::int AS n FROM async_probe')
    await reopened.close()
    expect(rows[0]!.n).toBe(50)
  } finally {
    rmSync(disk, { recursive: true, force: true })
  }
}, 120_000)
