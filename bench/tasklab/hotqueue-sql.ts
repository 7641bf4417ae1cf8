// Issue 13, item 5: the claim→finish cycle at SQL level, today's wide row against a narrow hot-queue
// table, interleaved in one run. Not part of `bun run bench`: a one-off measurement kept so it can
// be repeated (`bun bench/tasklab/hotqueue-sql.ts [rounds] [tasks]`).
//
//   a  today: the claim reads tasks_ready_idx of the wide `tasks` row and updates the row.
//   b  task_queue holds the waiting tasks only (id, type, priority, run_at, owner; 2 indexes);
//      the claim reads and locks it, deletes its rows and updates the wide row as today
//      (status stays honest for every reader). tasks_ready_idx is gone.
//   c  task_queue holds waiting and running tasks; the claim updates only the queue row, the wide
//      row is written at insert and at the outcome (+ deleting the queue row).
//
// Each client is one connection looping claim(B) → finish(B completed), as a worker's claimer and
// completer do. PostgreSQL CPU is read from /proc/<backend pid>/stat of the clients' backends.
import { readFileSync } from 'node:fs'
import postgres from 'postgres'
import { migrate } from '../../src/db/migrate'
import { cpuTicks } from '../lib/proc'

const URL_BASE = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const ROUNDS = Number(process.argv[2] ?? 3)
const N = Number(process.argv[3] ?? 40_000)
const SHAPES = [
  { clients: 2, batch: 50 },
  { clients: 2, batch: 100 },
]
const VARIANTS = (process.env.VARIANTS ?? 'a,b,c,b2,c2').split(',')
const TICK_US = 10_000 // USER_HZ 100

const dbUrl = (name: string) => {
  const u = new URL(URL_BASE)
  u.pathname = `/${name}`
  return u.toString()
}
const open = (name: string, max = 1) => postgres(dbUrl(name), { max, onnotice: () => {} })

/** The queue table: `key` is how its id is declared, `extra` the running-state columns of c/c2. */
const queueTable = (key: string, extra = '', options = '') => `
  DROP INDEX tasks_ready_idx;
  CREATE TABLE task_queue (
    id uuid ${key}, task_type text NOT NULL, priority task_priority NOT NULL,
    run_at timestamptz NOT NULL, created_by uuid${extra})${options};`
const RUNNING_COLS = ', locked_by text, lease_expires_at timestamptz, started_at timestamptz'
const READY_INDEX = 'CREATE INDEX task_queue_ready_idx ON task_queue (task_type, priority DESC, run_at, id)'
/** The insert trigger of b and c (b2, b3, c2 write the queue row in the enqueue's statement). */
const INSERT_TRIGGER = `
  CREATE FUNCTION q_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO task_queue (id, task_type, priority, run_at, created_by)
    VALUES (NEW.id, NEW.task_type, NEW.priority, NEW.run_at, NEW.created_by);
    RETURN NULL; END $$;
  CREATE TRIGGER q_ins AFTER INSERT ON tasks FOR EACH ROW
    WHEN (NEW.status IN ('pending', 'scheduled', 'retrying')) EXECUTE FUNCTION q_ins();`

const VARIANT_DDL: Record<string, string> = {
  a: '',
  // a3: today's schema with tasks_status_idx kept for finished tasks only (the claim's and the
  // enqueue's row versions then skip it): is the index count the lever rather than a queue table?
  a3: `
    DROP INDEX tasks_status_idx;
    CREATE INDEX tasks_status_idx ON tasks (status, created_at DESC) WHERE status IN ('completed', 'failed', 'cancelled');`,
  b: `${queueTable('PRIMARY KEY')} ${READY_INDEX}; ${INSERT_TRIGGER}`,
  // b2: as b, the queue row written by the enqueue statement itself (a CTE), not by a trigger.
  b2: `${queueTable('PRIMARY KEY')} ${READY_INDEX};`,
  // b3: as b2 with one index: the claim locks only the wide row (SKIP LOCKED; a queue row changes
  // only under its task's row lock) and deletes the queue rows by ctid.
  b3: `${queueTable('NOT NULL')} ${READY_INDEX};`,
  c: `${queueTable('PRIMARY KEY', RUNNING_COLS)} ${READY_INDEX} WHERE locked_by IS NULL;
    CREATE INDEX task_queue_running_idx ON task_queue (lease_expires_at) WHERE locked_by IS NOT NULL;
    ${INSERT_TRIGGER}`,
  // c2: as c, written by the enqueue's CTE, one index without a predicate and room on each page,
  // so the claim's update of the queue row is HOT (running rows are stepped over by the claim).
  c2: `${queueTable('PRIMARY KEY', RUNNING_COLS, ' WITH (fillfactor = 50)')} ${READY_INDEX};`,
}

const ADMITTED = (limit: number) => `
  admitted AS (
    SELECT name, CASE WHEN breaker_state = 'closed' THEN ${limit}::int ELSE 1 END AS cap
    FROM task_types
    WHERE name = ANY('{noop}'::text[]) AND is_active AND NOT paused
      AND (breaker_state <> 'open' OR breaker_opened_at + breaker_cooldown_ms * interval '1 millisecond' <= now()))`

const RETURNING = `RETURNING t.id, t.task_type, t.priority, t.payload, t.metadata, t.retry_strategy, t.max_attempts,
  t.current_attempt, t.timeout_ms, t.created_by, t.created_at, t.run_at, t.started_at, t.lease_expires_at`

function claimSql(v: string, limit: number, worker: string): string {
  const head = `WITH async AS (SELECT set_config('synchronous_commit', 'off', true)), ${ADMITTED(limit)}`
  if (v === 'a' || v === 'a3')
    return `${head},
    locked AS (SELECT c.* FROM admitted a CROSS JOIN LATERAL (
      SELECT r.id, r.priority, r.run_at, r.created_by FROM tasks r
      WHERE r.task_type = a.name AND r.status IN ('pending', 'scheduled', 'retrying') AND r.run_at <= now()
      ORDER BY r.priority DESC, r.run_at, r.id LIMIT a.cap FOR UPDATE SKIP LOCKED) c),
    picked AS (SELECT id FROM locked ORDER BY priority DESC, run_at, id LIMIT ${limit})
    UPDATE tasks t SET status = 'running', locked_by = '${worker}', last_worker = '${worker}',
      lease_expires_at = now() + 60000 * interval '1 millisecond', current_attempt = t.current_attempt + 1,
      started_at = clock_timestamp(), updated_at = now()
    FROM picked, async WHERE t.id = picked.id ${RETURNING}`
  if (v === 'b' || v === 'b2')
    return `${head},
    locked AS (SELECT c.* FROM admitted a CROSS JOIN LATERAL (
      SELECT q.id, q.priority, q.run_at, q.created_by FROM task_queue q JOIN tasks r ON r.id = q.id
      WHERE q.task_type = a.name AND q.run_at <= now() AND r.status IN ('pending', 'scheduled', 'retrying')
      ORDER BY q.priority DESC, q.run_at, q.id LIMIT a.cap FOR UPDATE OF q, r SKIP LOCKED) c),
    picked AS (SELECT id FROM locked ORDER BY priority DESC, run_at, id LIMIT ${limit}),
    gone AS (DELETE FROM task_queue q USING picked WHERE q.id = picked.id RETURNING q.id)
    UPDATE tasks t SET status = 'running', locked_by = '${worker}', last_worker = '${worker}',
      lease_expires_at = now() + 60000 * interval '1 millisecond', current_attempt = t.current_attempt + 1,
      started_at = clock_timestamp(), updated_at = now()
    FROM gone, async WHERE t.id = gone.id ${RETURNING}`
  if (v === 'b3')
    return `${head},
    locked AS (SELECT c.* FROM admitted a CROSS JOIN LATERAL (
      SELECT q.ctid AS qtid, q.id, q.priority, q.run_at, q.created_by FROM task_queue q JOIN tasks r ON r.id = q.id
      WHERE q.task_type = a.name AND q.run_at <= now() AND r.status IN ('pending', 'scheduled', 'retrying')
      ORDER BY q.priority DESC, q.run_at, q.id LIMIT a.cap FOR UPDATE OF r SKIP LOCKED) c),
    picked AS (SELECT id, qtid FROM locked ORDER BY priority DESC, run_at, id LIMIT ${limit}),
    gone AS (DELETE FROM task_queue q WHERE q.ctid = ANY(ARRAY(SELECT qtid FROM picked)) RETURNING q.id)
    UPDATE tasks t SET status = 'running', locked_by = '${worker}', last_worker = '${worker}',
      lease_expires_at = now() + 60000 * interval '1 millisecond', current_attempt = t.current_attempt + 1,
      started_at = clock_timestamp(), updated_at = now()
    FROM gone, async WHERE t.id = gone.id ${RETURNING}`
  // c: only the queue row changes; the wide row is read for what the worker runs with.
  return `${head},
    locked AS (SELECT c.* FROM admitted a CROSS JOIN LATERAL (
      SELECT q.id, q.priority, q.run_at FROM task_queue q
      WHERE q.task_type = a.name AND q.locked_by IS NULL AND q.run_at <= now()
      ORDER BY q.priority DESC, q.run_at, q.id LIMIT a.cap FOR UPDATE SKIP LOCKED) c),
    picked AS (SELECT id FROM locked ORDER BY priority DESC, run_at, id LIMIT ${limit}),
    upd AS (UPDATE task_queue q SET locked_by = '${worker}',
      lease_expires_at = now() + 60000 * interval '1 millisecond', started_at = clock_timestamp()
      FROM picked, async WHERE q.id = picked.id RETURNING q.id, q.started_at, q.lease_expires_at)
    SELECT t.id, t.task_type, t.priority, t.payload, t.metadata, t.retry_strategy, t.max_attempts,
      t.current_attempt + 1 AS current_attempt, t.timeout_ms, t.created_by, t.created_at, t.run_at,
      upd.started_at, upd.lease_expires_at
    FROM upd JOIN tasks t ON t.id = upd.id`
}

function finishSql(v: string, worker: string): string {
  if (v[0] !== 'c')
    return `WITH done AS (
      UPDATE tasks t SET status = v.status,
        result = CASE WHEN v.status = 'completed' THEN v.result ELSE t.result END,
        last_error = coalesce(v.error, t.last_error),
        run_at = coalesce(v.run_at, CASE WHEN v.status = 'pending' THEN now() ELSE t.run_at END),
        current_attempt = t.current_attempt - CASE WHEN v.status = 'pending' THEN 1 ELSE 0 END,
        completed_at = CASE WHEN v.status IN ('completed', 'failed', 'cancelled') THEN now() END,
        started_at = CASE WHEN v.status = 'pending' THEN NULL ELSE t.started_at END,
        locked_by = NULL, lease_expires_at = NULL, updated_at = now()
      FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, status task_status, result jsonb, error text, run_at timestamptz),
        (SELECT set_config('synchronous_commit', 'off', true)) async
      WHERE t.id = v.id AND t.status = 'running' AND t.locked_by = '${worker}'
      RETURNING t.id, t.status),
    feed AS (SELECT pg_notify('tasklab_feed', string_agg(id::text, ',')) FROM (
      SELECT id, (row_number() OVER () - 1) / 200 AS chunk FROM done WHERE status = 'completed') c GROUP BY chunk)
    SELECT id FROM done WHERE (SELECT count(*) FROM feed) >= 0`
  return `WITH v AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, status task_status, result jsonb, error text, run_at timestamptz)),
    q AS (DELETE FROM task_queue q USING v, (SELECT set_config('synchronous_commit', 'off', true)) async
      WHERE q.id = v.id AND q.locked_by = '${worker}' RETURNING q.id, q.started_at),
    done AS (
      UPDATE tasks t SET status = v.status,
        result = CASE WHEN v.status = 'completed' THEN v.result ELSE t.result END,
        last_error = coalesce(v.error, t.last_error), current_attempt = t.current_attempt + 1,
        completed_at = now(), started_at = q.started_at, last_worker = '${worker}', updated_at = now()
      FROM v JOIN q USING (id) WHERE t.id = v.id
      RETURNING t.id, t.status),
    feed AS (SELECT pg_notify('tasklab_feed', string_agg(id::text, ',')) FROM (
      SELECT id, (row_number() OVER () - 1) / 200 AS chunk FROM done WHERE status = 'completed') c GROUP BY chunk)
    SELECT id FROM done WHERE (SELECT count(*) FROM feed) >= 0`
}

/** In variant c a finished row passes running→completed without the claim ever writing `running`. */
const C_TRIGGER_FIX = `
  CREATE OR REPLACE FUNCTION tasklab_lean_transition(f task_status, t task_status, old_worker text, new_worker text)
  RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (t = 'running' AND f IN ('pending', 'scheduled', 'retrying') AND new_worker IS NOT NULL)
        OR (f IN ('running', 'pending') AND t = 'completed' AND new_worker IS NOT NULL) $$;`

async function makeTemplate(): Promise<void> {
  const admin = open('postgres')
  await admin.unsafe('DROP DATABASE IF EXISTS hq_tpl')
  await admin.unsafe('CREATE DATABASE hq_tpl')
  await admin.end()
  const t = open('hq_tpl')
  await migrate(t as never)
  await t`INSERT INTO task_types (name) VALUES ('noop')`
  await t.end()
}

/** A fresh clone of the migrated template with the variant's schema. */
async function variantDatabase(admin: postgres.Sql, name: string, variant: string): Promise<postgres.Sql> {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name}`)
  await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE hq_tpl`)
  const db = open(name)
  if (VARIANT_DDL[variant]) await db.unsafe(VARIANT_DDL[variant]!)
  if (variant[0] === 'c') await db.unsafe(C_TRIGGER_FIX)
  return db
}

/** One claim and the outcome of everything it got (completed); how many went through. */
async function cycle(c: postgres.Sql, claim: string, finish: string): Promise<number> {
  const got = await c.unsafe(claim, [], { prepare: true })
  if (got.length === 0) return 0
  const outcomes = got.map((r) => ({
    id: r.id,
    status: 'completed',
    result: null,
    error: null,
    run_at: null,
  }))
  const w = await c.unsafe(finish, [outcomes as never], { prepare: true })
  if (w.length !== got.length) throw new Error(`finish wrote ${w.length} of ${got.length}`)
  return w.length
}

async function dropDatabase(admin: postgres.Sql, db: postgres.Sql, name: string): Promise<void> {
  await db.end()
  await admin.unsafe(`DROP DATABASE ${name}`)
  await admin.end()
}

/** Queues n due no-op tasks, `per` per statement; b2, b3 and c2 write the queue row in the same statement. */
async function fill(db: postgres.Sql, variant: string, n: number, per: number): Promise<void> {
  const rows = `INSERT INTO tasks (task_type, payload, retry_strategy, run_at)
      SELECT 'noop', '{"delay_seconds":0}', '{"type":"fixed","delay_ms":0}',
             now() - interval '1 minute' + g * interval '1 microsecond'
      FROM generate_series($1::int, $2::int) g`
  const insert = ['b2', 'b3', 'c2'].includes(variant)
    ? `WITH t AS (${rows} RETURNING id, task_type, priority, run_at, created_by)
       INSERT INTO task_queue (id, task_type, priority, run_at, created_by) SELECT * FROM t`
    : rows
  for (let i = 0; i < n; i += per) await db.unsafe(insert, [i, Math.min(i + per, n) - 1])
}

interface Sample {
  variant: string
  clients: number
  batch: number
  n: number
  insertMs: number
  insertPgUsPerTask: number
  ms: number
  perSec: number
  pgUsPerTask: number
}

async function runOne(variant: string, clients: number, batch: number): Promise<Sample> {
  const name = `hq_${variant}_${process.pid}`
  const admin = open('postgres')
  const setup = await variantDatabase(admin, name, variant)
  const setupPid = (await setup`SELECT pg_backend_pid() AS pid`)[0]!.pid as number
  let c0 = cpuTicks(setupPid)
  let t0 = performance.now()
  await fill(setup, variant, N, 1000)
  const insertMs = performance.now() - t0
  const insertPgUs = (cpuTicks(setupPid) - c0) * TICK_US
  await setup`ANALYZE`
  const conns = Array.from({ length: clients }, () => open(name))
  const pids: number[] = []
  for (const c of conns) pids.push((await c`SELECT pg_backend_pid() AS pid`)[0]!.pid)
  c0 = pids.reduce((s, p) => s + cpuTicks(p), 0)
  t0 = performance.now()
  let done = 0
  await Promise.all(
    conns.map(async (c, k) => {
      const worker = `w${k}`
      const claim = claimSql(variant, batch, worker)
      const finish = finishSql(variant, worker)
      for (;;) {
        const n = await cycle(c, claim, finish)
        if (n === 0) break
        done += n
      }
    }),
  )
  const ms = performance.now() - t0
  const pgUs = (pids.reduce((s, p) => s + cpuTicks(p), 0) - c0) * TICK_US
  const left = (await setup`SELECT count(*)::int AS left FROM tasks WHERE status <> 'completed'`)[0]!.left
  if (left !== 0 || done !== N) throw new Error(`${variant}: ${left} unfinished, ${done} done`)
  await Promise.all(conns.map((c) => c.end()))
  await dropDatabase(admin, setup, name)
  return {
    variant,
    clients,
    batch,
    n: N,
    insertMs: Math.round(insertMs),
    insertPgUsPerTask: +(insertPgUs / N).toFixed(1),
    ms: Math.round(ms),
    perSec: Math.round((N / ms) * 1000),
    pgUsPerTask: +(pgUs / N).toFixed(1),
  }
}

/**
 * The soak's question: after `drained` tasks went through, what does a claim of 50 cost, what does
 * a VACUUM of the table that holds the claim's index cost, and the claim after it? Claims are
 * timed inside a transaction that is rolled back, so the probe takes nothing.
 */
async function soakProbe(variant: string, total: number, drained: number): Promise<Record<string, unknown>> {
  const name = `hq_soak_${variant}_${process.pid}`
  const admin = open('postgres')
  const c = await variantDatabase(admin, name, variant)
  await fill(c, variant, total, 10_000)
  await c`ANALYZE`
  const claim = claimSql(variant, 100, 'w0')
  const finish = finishSql(variant, 'w0')
  let done = 0
  while (done < drained) done += await cycle(c, claim, finish)
  const probe = claimSql(variant, 50, 'probe')
  const timeClaim = async () => {
    const ms: number[] = []
    for (let i = 0; i < 5; i++)
      await c
        .begin(async (tx) => {
          const t0 = performance.now()
          await tx.unsafe(probe, [], { prepare: true })
          ms.push(performance.now() - t0)
          throw new Error('rollback')
        })
        .catch(() => {})
    return +ms.sort((p, q) => p - q)[2]!.toFixed(2)
  }
  const before = await timeClaim()
  const table = variant === 'a' ? 'tasks' : 'task_queue'
  const t0 = performance.now()
  await c.unsafe(`VACUUM ${table}`)
  const vacuumMs = Math.round(performance.now() - t0)
  const after = await timeClaim()
  const [size] = await c.unsafe(`SELECT pg_size_pretty(pg_total_relation_size('${table}')) AS s`)
  await dropDatabase(admin, c, name)
  return {
    variant,
    total,
    drained,
    claimMsBefore: before,
    vacuumTable: table,
    vacuumMs,
    claimMsAfter: after,
    size: size!.s,
  }
}

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
await makeTemplate()
if (process.env.SOAK) {
  const [total, drained] = process.env.SOAK.split(',').map(Number) as [number, number]
  for (const v of VARIANTS)
    console.log(JSON.stringify({ load: load(), ...(await soakProbe(v, total, drained)) }))
  const admin = open('postgres')
  await admin.unsafe('DROP DATABASE IF EXISTS hq_tpl')
  await admin.end()
  process.exit(0)
}
const samples: Sample[] = []
for (let r = 0; r < ROUNDS; r++)
  for (const s of SHAPES)
    for (const v of VARIANTS) {
      const x = await runOne(v, s.clients, s.batch)
      samples.push(x)
      console.error(JSON.stringify({ round: r, load: load(), ...x }))
    }
const med = (xs: number[]) => xs.sort((p, q) => p - q)[Math.floor(xs.length / 2)]!
console.log(`| shape | variant | tasks/s (median) | PG µs/task claim+finish | insert PG µs/task |`)
console.log('|---|---|---|---|---|')
for (const s of SHAPES)
  for (const v of VARIANTS) {
    const xs = samples.filter((x) => x.variant === v && x.clients === s.clients && x.batch === s.batch)
    console.log(
      `| ${s.clients} clients × ${s.batch} | ${v} | ${med(xs.map((x) => x.perSec))} | ${med(xs.map((x) => x.pgUsPerTask))} | ${med(xs.map((x) => x.insertPgUsPerTask))} |`,
    )
  }
const admin = open('postgres')
await admin.unsafe('DROP DATABASE IF EXISTS hq_tpl')
await admin.end()
