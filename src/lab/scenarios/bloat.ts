// bloat: what one forgotten transaction does to a Postgres queue. A session of our own opens a
// transaction and sits idle in it while a flood runs through tasklab. Every claim and finish is an
// UPDATE that leaves the old row version dead; while that transaction is open VACUUM may not
// remove any of them, and an idle worker's claim has to step over every one of them. The
// scenario watches GET /storage name the session that holds the horizon, shows that a VACUUM
// during the hold removes nothing, then ends the transaction, vacuums, and measures the dead rows
// reclaimed and the claim getting fast again. Needs the database (--spawn, or --database-url).
import postgres from 'postgres'
// The lab's one engine import: the scenario times the engine's own claim statement on a connection
// of its own and counts the blocks that backend touches; through the API the claim would share the
// server's pool, and its time would be mostly the HTTP round trip.
// biome-ignore lint/style/noRestrictedImports: measures the engine's claim SQL itself (see above)
import { claimTasks } from '../../queue/claim'
import type { ApiStorage } from '../client'
import { withDatabase } from '../cluster'
import {
  account,
  type Check,
  type Ctx,
  delayTask,
  drain,
  newRun,
  type Report,
  restoring,
  skipped,
  tagged,
} from '../scenario'

/** How the holding session shows in pg_stat_activity, so GET /storage can be checked for it. */
export const HOLDER_APP = 'tasklab-chaos-bloat'
/** The threshold the scenario asks GET /storage to warn above. */
const LONG_SECS = 1

/** The flood comes in waves, with a reading after each: the garbage and the claim's work grow. */
const WAVES = 3

interface Reading {
  /** Dead rows in tasks and task_event_log, the tables the queue writes (task_events is a view). */
  dead: number
  deadTasks: number
  claimMs: number
  /** Blocks of tasks and its indexes an idle claim touches (null before PostgreSQL 15: no pg_stat_force_next_flush). */
  claimBlocks: number | null
}

export async function bloat(ctx: Ctx): Promise<Report> {
  if (!ctx.database)
    return skipped('bloat', 'needs the database: run with --spawn, or give --database-url of the instance')
  const url = withDatabase(ctx.database.adminUrl, ctx.database.name)
  const db = postgres(url, { max: 2, onnotice: () => {}, connection: { application_name: 'tasklab-chaos' } })
  const holder = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: HOLDER_APP } })
  try {
    return await run(ctx, db, holder)
  } finally {
    await holder.end({ timeout: 1 })
    await db.end({ timeout: 1 })
  }
}

async function run(ctx: Ctx, db: postgres.Sql, holder: postgres.Sql): Promise<Report> {
  const run = newRun('bloat')
  const storage = () => ctx.api.storage(LONG_SECS)
  const read = async (): Promise<Reading> => {
    const s = await settled(storage)
    return { dead: queueDead(s), deadTasks: deadOf(s, 'tasks'), ...(await claimScan(db)) }
  }
  const autovacuum = (await storage()).server.autovacuum
  // Start from a clean table, so "before" is the queue's cost without garbage.
  await db.unsafe('VACUUM (ANALYZE) tasks, task_event_log')
  const before = await read()
  ctx.log(`  before: ${fmt(before)}`)

  // The forgotten transaction: it takes a snapshot and an xid, then idles until we end it.
  let end!: () => void
  const ended = new Promise<void>((r) => {
    end = r
  })
  let holderPid = 0
  const held = holder
    .begin('isolation level repeatable read', async (tx) => {
      const [row] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid, txid_current()`
      holderPid = row!.pid
      await ended
    })
    .catch((err) => ctx.log(`  the holding transaction failed: ${err.message}`))
  while (holderPid === 0) await Bun.sleep(10)
  ctx.log(`  opened a transaction on pid ${holderPid} (${HOLDER_APP}) and left it idle`)

  return restoring(
    ctx,
    async () => {
      end()
      await held
    },
    async () => {
      const created: string[] = []
      const waves: Reading[] = []
      let result: Awaited<ReturnType<typeof drain>> | undefined
      for (let w = 1; w <= WAVES; w++) {
        const n = Math.ceil((ctx.tasks * w) / WAVES) - created.length
        const wave = await ctx.api.createBatch(
          Array.from({ length: n }, () => tagged(run, delayTask(0, 0.01))),
        )
        created.push(...wave.map((t) => t.id))
        result = await drain(ctx, run, created.length)
        if (!result.drained) break
        waves.push(await read())
        ctx.log(`  wave ${w} (${created.length} tasks done), transaction still open: ${fmt(waves.at(-1)!)}`)
      }
      const during = waves.at(-1) ?? (await read())

      // What tasklab shows: the oldest transaction, with the session that holds it.
      const seen = await storage()
      const named = seen.oldest_transaction
      const warning = seen.warnings.find((w) => w.includes(`pid ${holderPid}`))
      ctx.log(
        named
          ? `  GET /storage: oldest transaction pid ${named.pid} (${named.application_name}, ${named.client}, ${named.state}), open ${named.age_secs.toFixed(1)} s`
          : '  GET /storage: no open transaction shown',
      )

      // VACUUM now can only count the dead rows, not remove them: the transaction may still see them.
      await db.unsafe('VACUUM tasks, task_event_log')
      const vacuumHeld = await settled(storage)
      ctx.log(
        `  VACUUM while held: ${deadOf(vacuumHeld, 'tasks')} dead rows in tasks cannot be removed yet (of ${during.deadTasks})`,
      )

      end()
      await held
      // tasklab runs VACUUM itself rather than wait for autovacuum: autovacuum may be off (it is on
      // CI's server), and when on it would start only after its naptime (60 s) and thresholds.
      const t0 = performance.now()
      await db.unsafe('VACUUM (ANALYZE) tasks, task_event_log')
      const vacuumMs = Math.round(performance.now() - t0)
      const after = await read()
      ctx.log(`  after ending it and VACUUM (${vacuumMs} ms): ${fmt(after)}`)
      const released = (await storage()).oldest_transaction

      const reclaimed = during.deadTasks - after.deadTasks
      const checks: Check[] = [
        {
          name: 'GET /storage named the long transaction (pid and application)',
          ok: named?.pid === holderPid && named.application_name === HOLDER_APP,
          detail: named ? `oldest: pid ${named.pid} ${named.application_name}` : 'no open transaction shown',
        },
        {
          name: `GET /storage warned about it (open > ${LONG_SECS} s)`,
          ok: warning !== undefined,
          detail: warning ? undefined : seen.warnings.join(' | ') || 'no warning',
        },
        {
          name: 'dead rows piled up while it was open',
          ok: during.deadTasks > before.deadTasks,
          detail: `${before.deadTasks} → ${waves.map((r) => r.deadTasks).join(' → ')} in tasks`,
        },
        {
          name: 'VACUUM during the hold could not remove them',
          ok: deadOf(vacuumHeld, 'tasks') >= during.deadTasks / 2,
          detail: `${deadOf(vacuumHeld, 'tasks')} of ${during.deadTasks} still there`,
        },
        {
          name: 'after it ended, VACUUM reclaimed them',
          ok: after.deadTasks <= during.deadTasks / 10,
          detail: `${reclaimed} reclaimed, ${after.deadTasks} left`,
        },
        {
          name: 'the transaction is gone from GET /storage',
          ok: released?.pid !== holderPid,
        },
      ]
      return account(
        ctx,
        'bloat',
        run,
        created,
        result!,
        { failed: 0 },
        {
          checks,
          notes: [
            named
              ? `horizon held by pid ${named.pid} (${named.application_name}, ${named.client}, ${named.state}), open ${named.age_secs.toFixed(1)} s`
              : 'GET /storage showed no open transaction',
            `dead rows (tasks) before/during/after: ${before.deadTasks}/${during.deadTasks}/${after.deadTasks}`,
            `dead rows (tasks + task_event_log) before/during/after: ${before.dead}/${during.dead}/${after.dead}`,
            `dead rows (tasks) wave by wave: ${waves.map((r) => r.deadTasks).join(' → ')}`,
            `idle claim ms before/waves/after: ${ms(before.claimMs)}/${waves.map((r) => ms(r.claimMs)).join(' → ')}/${ms(after.claimMs)}`,
            `8 kB blocks an idle claim touches before/waves/after: ${blocks(before)}/${waves.map(blocks).join(' → ')}/${blocks(after)}`,
            `VACUUM run by the scenario (autovacuum is ${autovacuum ? 'on' : 'off'} on this server)`,
          ],
        },
      )
    },
  )
}

const deadOf = (s: ApiStorage, table: string) => s.tables.find((t) => t.table === table)?.dead_rows ?? 0
/** The queue's own garbage; the workers table's heartbeats churn all the time and are left out. */
const queueDead = (s: ApiStorage) => deadOf(s, 'tasks') + deadOf(s, 'task_event_log')
const ms = (v: number) => v.toFixed(2)
const blocks = (r: Reading) => (r.claimBlocks === null ? 'n/a' : String(r.claimBlocks))
const fmt = (r: Reading) =>
  `${r.deadTasks} dead rows in tasks, idle claim ${ms(r.claimMs)} ms (median of ${PROBES})` +
  (r.claimBlocks === null ? '' : `, touching ${r.claimBlocks} blocks of tasks and its indexes`)

const PROBES = 15

/**
 * An idle worker's claim: the engine's claim statement for a type with no tasks, which walks the
 * whole ready index (or, on a small table, the whole table) — every dead row version left there
 * included. Returns its median time and how many blocks of tasks and its indexes it touched (the
 * backend's own I/O counters, flushed on demand): the work, free of the machine's noise.
 */
async function claimScan(db: postgres.Sql): Promise<{ claimMs: number; claimBlocks: number | null }> {
  const conn = await db.reserve()
  try {
    const readBlocks = async (): Promise<number | null> => {
      try {
        await conn`SELECT pg_stat_force_next_flush()`
      } catch {
        return null
      }
      const [row] = await conn<{ n: number }[]>`
        SELECT (coalesce(heap_blks_hit, 0) + coalesce(heap_blks_read, 0) + coalesce(idx_blks_hit, 0) + coalesce(idx_blks_read, 0))::float8 AS n
        FROM pg_statio_user_tables WHERE relname = 'tasks'`
      return row!.n
    }
    const start = await readBlocks()
    const times: number[] = []
    for (let i = 0; i < PROBES; i++) {
      const t0 = performance.now()
      await claimTasks(conn as unknown as postgres.Sql, {
        workerId: 'chaos-bloat-probe',
        types: ['chaos_bloat_probe'],
        limit: 1,
        leaseMs: 1000,
      })
      times.push(performance.now() - t0)
    }
    const end = await readBlocks()
    times.sort((a, b) => a - b)
    return {
      claimMs: times[Math.floor(times.length / 2)]!,
      claimBlocks: start === null || end === null ? null : Math.round((end - start) / PROBES),
    }
  } finally {
    conn.release()
  }
}

/**
 * Statistics reach pg_stat_user_tables up to a few seconds after the writer's commit (an idle
 * session flushes within 10 s): read until two readings a second apart agree, at most 12 s.
 */
async function settled(read: () => Promise<ApiStorage>): Promise<ApiStorage> {
  let last = await read()
  const deadline = performance.now() + 12_000
  while (performance.now() < deadline) {
    await Bun.sleep(1000)
    const next = await read()
    if (queueDead(next) === queueDead(last)) return next
    last = next
  }
  return last
}
