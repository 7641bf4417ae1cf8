// Shared helpers: database admin, clocks, statistics.
import pg from 'pg'

export const PGHOST = process.env.PGHOST || '127.0.0.1'
export const PGPORT = Number(process.env.PGPORT || 5432)
export const PGUSER = process.env.PGUSER || 'postgres'
export const PGPASSWORD = process.env.PGPASSWORD || 'postgres'

export function dbUrl(db) {
  return `postgres://${encodeURIComponent(PGUSER)}:${encodeURIComponent(PGPASSWORD)}@${PGHOST}:${PGPORT}/${db}`
}

// Monotonic clock in ms. On Linux process.hrtime uses CLOCK_MONOTONIC, which is
// system-wide, so values taken in different processes on this machine compare.
export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function adminQuery(sql) {
  const c = new pg.Client({ connectionString: dbUrl('postgres') })
  await c.connect()
  try {
    return await c.query(sql)
  } finally {
    await c.end()
  }
}

const ident = (s) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(s)) throw new Error(`bad identifier ${s}`)
  return s
}

export async function dropDb(db) {
  await adminQuery(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`)
}

// Create an empty database (dropping any previous one).
export async function createDb(db) {
  await dropDb(db)
  await adminQuery(`CREATE DATABASE ${ident(db)}`)
}

// Freeze a prepared database as a template: no connections allowed, so that
// autovacuum cannot get in the way of CREATE DATABASE ... TEMPLATE.
export async function freezeTemplate(db) {
  await adminQuery(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${ident(db)}' AND pid <> pg_backend_pid()`,
  )
  await adminQuery(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS false`)
}

// Drop `db` and recreate it as a fresh copy of `template`.
export async function resetFromTemplate(db, template) {
  await dropDb(db)
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(`CREATE DATABASE ${ident(db)} TEMPLATE ${ident(template)}`)
      return
    } catch (e) {
      if (attempt >= 10 || !/being accessed by other users/.test(e.message)) throw e
      await sleep(200)
    }
  }
}

export async function withClient(db, fn) {
  const c = new pg.Client({ connectionString: dbUrl(db) })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

// ---------- statistics ----------
export function percentile(sorted, p) {
  if (!sorted.length) return NaN
  if (sorted.length === 1) return sorted[0]
  const idx = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(idx)
  const hi = Math.ceil(idx)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - lo)
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  return percentile(v, 50)
}

export function summarizeLatencies(values) {
  const v = [...values].sort((a, b) => a - b)
  return {
    n: v.length,
    min: v[0],
    p50: percentile(v, 50),
    p95: percentile(v, 95),
    p99: percentile(v, 99),
    max: v[v.length - 1],
    mean: v.reduce((s, x) => s + x, 0) / v.length,
  }
}

// Run `fn(i)` for i in [0, n) with at most `inflight` calls outstanding.
export async function runPool(n, inflight, fn) {
  let next = 0
  const lanes = []
  for (let l = 0; l < Math.min(inflight, n); l++) {
    lanes.push(
      (async () => {
        while (true) {
          const i = next++
          if (i >= n) return
          await fn(i)
        }
      })(),
    )
  }
  await Promise.all(lanes)
}
