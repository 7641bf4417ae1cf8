// Vacuuming the queue's hot tables when the server will not. Every claim and every finish updates a
// task row without HOT (its status leaves one partial index for another), so each task leaves dead
// row versions behind, and dead entries at the head of `tasks_ready_idx` that every claim's index
// scan walks until a VACUUM removes them. With `autovacuum = off` (a setting tasklab never assumes
// either way) nothing removes them: a 1,000,000-task soak at c=50 fell from 22,049 to 13,390
// tasks/s (0.61×), the claim of 50 taking 29 ms of which 27 ms in that index (docs/performance.md).
// With this job: 0.87–0.89× and a flat CPU per task at 1,000,000; 0.46× at 5,000,000, where each
// pass reads 500 MB of indexes (what fixes that is a smaller queue table, not a schedule).
//
// So when autovacuum is off for a hot table (server-wide, or `autovacuum_enabled = false` on the
// table) tasklab vacuums it itself once its dead tuples pass a threshold: one process at a time
// (a session advisory lock), on a connection of its own outside any transaction (VACUUM refuses
// to run inside one, and a pass of seconds must not hold a pool connection the worker needs),
// never two passes of one process at once. When autovacuum is on this does nothing; migration
// 0009 tunes autovacuum for `tasks` instead.
import { connect, isConnectionError, type Sql } from '../db/connect'

/**
 * The tables whose rows are updated or deleted at the queue's rate. One list, so that a narrower
 * queue table added later is vacuumed by adding its name here.
 */
export const HOT_TABLES = ['tasks', 'task_event_log'] as const

/**
 * A table is vacuumed once n_dead_tup ≥ max(minDead, liveFraction × n_live_tup). A fixed floor
 * keeps the passes few on a small table; the fraction keeps each pass's cost (it reads every index
 * of the table in full) in proportion to the work it saves on a big one. With these values the
 * 1,000,000-task soak's CPU per task stayed flat (1.04–1.15× from the first tenth to the last,
 * against 1.8–2.1× without a vacuum); other values were not compared side by side
 * (docs/performance.md, "Vacuuming the queue").
 */
export const THRESHOLD = { minDead: 50_000, liveFraction: 0.02 }

/** How often a process looks at the statistics (one cheap query). */
const CHECK_MS = 2000
/**
 * Where autovacuum looks after every hot table, look again only this often (a reload can turn it
 * off) and give the connection back in between: with autovacuum on, the job costs nothing.
 */
const IDLE_CHECK_MS = 60_000

/** Any constant, the same in every tasklab process (retention uses …015). */
export const VACUUM_LOCK = 7_461_730_016

type TableAction = 'vacuumed' | 'below threshold' | 'autovacuum' | 'not owner' | 'missing'

export interface TableState {
  table: string
  /** The server's autovacuum (and track_counts, which it needs) on, and not disabled on the table. */
  autovacuum: boolean
  /** VACUUM by anyone else than the owner (or a superuser) is skipped with a warning. */
  owned: boolean
  dead: number
  live: number
}

export interface TableOutcome extends TableState {
  action: TableAction
  threshold: number
  /** n_dead_tup right after the VACUUM (what it could not remove yet, plus what arrived meanwhile). */
  deadAfter?: number
  /** performance.now() when the VACUUM was sent, and how long it took. */
  startedMs?: number
  ms?: number
}

export interface VacuumPass {
  /** False when another process held the lock: it is vacuuming, this pass did nothing. */
  ran: boolean
  tables: TableOutcome[]
}

/** The hot tables' autovacuum state and dead/live counts from the statistics collector. */
export async function tableStates(sql: Sql, tables: readonly string[] = HOT_TABLES): Promise<TableState[]> {
  const rows = await sql<(TableState & { found: boolean })[]>`
    SELECT t.name AS table,
           c.oid IS NOT NULL AS found,
           coalesce(current_setting('autovacuum')::bool AND current_setting('track_counts')::bool
             AND coalesce((SELECT option_value::bool FROM pg_options_to_table(c.reloptions)
                            WHERE option_name = 'autovacuum_enabled'), true), false) AS autovacuum,
           coalesce(pg_has_role(c.relowner, 'USAGE'), false) AS owned,
           coalesce(s.n_dead_tup, 0)::float8 AS dead,
           coalesce(s.n_live_tup, 0)::float8 AS live
    FROM unnest(${tables}::text[]) WITH ORDINALITY AS t(name, ord)
    LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
    ORDER BY t.ord`
  return rows
    .filter((r) => r.found)
    .map(({ table, autovacuum, owned, dead, live }) => ({ table, autovacuum, owned, dead, live }))
}

const thresholdFor = (live: number, t = THRESHOLD) => Math.max(t.minDead, Math.ceil(t.liveFraction * live))

/**
 * One pass: under the advisory lock, VACUUM each hot table that autovacuum does not look after
 * and whose dead tuples passed its threshold. `conn` must be a connection of its own (max 1):
 * the session lock and the VACUUM need the same session, and VACUUM cannot run in a transaction.
 */
export async function runVacuumPass(
  conn: Sql,
  opts: { tables?: readonly string[]; threshold?: typeof THRESHOLD } = {},
): Promise<VacuumPass> {
  const [got] = await conn<{ ok: boolean }[]>`SELECT pg_try_advisory_lock(${VACUUM_LOCK}) AS ok`
  if (!got?.ok) return { ran: false, tables: [] }
  try {
    const tables: TableOutcome[] = []
    for (const s of await tableStates(conn, opts.tables)) {
      const threshold = thresholdFor(s.live, opts.threshold)
      const action: TableAction = s.autovacuum
        ? 'autovacuum'
        : !s.owned
          ? 'not owner'
          : s.dead < threshold
            ? 'below threshold'
            : 'vacuumed'
      const outcome: TableOutcome = { ...s, action, threshold }
      if (action === 'vacuumed') {
        const t0 = performance.now()
        outcome.startedMs = t0
        // INDEX_CLEANUP ON: the default (AUTO) skips the index pass when dead items sit on under
        // 2 % of the heap's pages, which on a big table leaves exactly the ready index's dead
        // entries the claim walks. TRUNCATE false: giving back empty tail pages needs an ACCESS
        // EXCLUSIVE lock, and a queue refills them within seconds. SKIP_LOCKED: if something
        // else holds the table (an autovacuum worker, ALTER TABLE), skip it this pass.
        await conn
          .unsafe(`VACUUM (INDEX_CLEANUP ON, TRUNCATE false, SKIP_LOCKED) ${quoteIdent(s.table)}`)
          .simple()
        outcome.ms = performance.now() - t0
        const [after] = await tableStates(conn, [s.table])
        outcome.deadAfter = after?.dead
      }
      tables.push(outcome)
    }
    return { ran: true, tables }
  } finally {
    await conn`SELECT pg_advisory_unlock(${VACUUM_LOCK})`
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`

/** What the schedule logs through (the caller's logger). */
interface PassLog {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
}

export type VacuumMode = 'auto' | 'off'

/**
 * Runs a pass every CHECK_MS on a connection of its own (opened on first use, closed when the
 * schedule stops, or while autovacuum looks after every hot table: then every IDLE_CHECK_MS). Logs each VACUUM with what it removed and how long it took, and once (again
 * only when it changes) that autovacuum looks after every hot table. Returns the stop function.
 */
export function scheduleVacuum(opts: {
  url: string
  log: PassLog
  everyMs?: number
  idleEveryMs?: number
  tables?: readonly string[]
  threshold?: typeof THRESHOLD
  /** Told about every pass that ran (tests wait on it). */
  onPass?: (p: VacuumPass) => void
}): () => Promise<void> {
  const { log } = opts
  let conn: Sql | undefined
  let busy = false
  let stopped = false
  let leftToAutovacuum: boolean | undefined
  let warnedNotOwner = false
  let idleUntil = 0
  const tick = async () => {
    if (busy || stopped || Date.now() < idleUntil) return
    busy = true
    try {
      conn ??= connect(opts.url, { max: 1, applicationName: 'tasklab-vacuum' })
      const p = await runVacuumPass(conn, opts)
      if (!p.ran) return
      const all = p.tables.length > 0 && p.tables.every((t) => t.action === 'autovacuum')
      if (all) {
        idleUntil = Date.now() + (opts.idleEveryMs ?? IDLE_CHECK_MS)
        const c = conn
        conn = undefined
        await c.end({ timeout: 5 })
      }
      if (all !== leftToAutovacuum) {
        leftToAutovacuum = all
        if (all)
          log.info('autovacuum is on for the queue tables: tasklab leaves vacuuming them to it', {
            tables: p.tables.map((t) => t.table),
          })
        else
          log.info('autovacuum is off for queue tables: tasklab vacuums them past a dead-tuple threshold', {
            tables: p.tables.filter((t) => t.action !== 'autovacuum').map((t) => t.table),
          })
      }
      for (const t of p.tables) {
        if (t.action === 'vacuumed')
          log.info('vacuumed a queue table', {
            table: t.table,
            dead_before: t.dead,
            dead_after: t.deadAfter,
            removed: Math.max(0, t.dead - (t.deadAfter ?? 0)),
            live: t.live,
            ms: Math.round(t.ms ?? 0),
          })
        if (t.action === 'not owner' && !warnedNotOwner) {
          warnedNotOwner = true
          log.warn('cannot vacuum a queue table: only its owner may; vacuum it by other means', {
            table: t.table,
            dead: t.dead,
          })
        }
      }
      opts.onPass?.(p)
    } catch (err) {
      if (!isConnectionError(err)) log.warn('vacuum pass failed; the next one retries', { error: err })
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void tick(), opts.everyMs ?? CHECK_MS)
  return async () => {
    stopped = true
    clearInterval(timer)
    await conn?.end({ timeout: 5 })
  }
}
