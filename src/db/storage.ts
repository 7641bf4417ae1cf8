// What the database holds and what keeps it from shrinking: per table live and dead rows, bytes
// (table + indexes + TOAST) and vacuum times, and the open transactions that hold back the xmin
// horizon — while one is open, VACUUM may not remove any row version deleted after it started, so
// every claim and finish (each leaves a dead row) piles up garbage that index scans wade through.
import type { Sql } from './connect'

export interface TableStorage {
  table: string
  rows: number
  dead_rows: number
  total_bytes: number
  table_bytes: number
  index_bytes: number
  toast_bytes: number
  inserted: number
  updated: number
  hot_updated: number
  deleted: number
  last_vacuum: Date | null
  last_autovacuum: Date | null
  last_analyze: Date | null
  last_autoanalyze: Date | null
  vacuum_count: number
  autovacuum_count: number
}

/** pg_stat_user_tables joined with the sizes; bigints as float8 (exact below 2^53). */
export async function tableStorage(sql: Sql): Promise<TableStorage[]> {
  return sql<TableStorage[]>`
    SELECT s.relname::text AS table,
           s.n_live_tup::float8 AS rows,
           s.n_dead_tup::float8 AS dead_rows,
           pg_total_relation_size(s.relid)::float8 AS total_bytes,
           pg_relation_size(s.relid)::float8 AS table_bytes,
           pg_indexes_size(s.relid)::float8 AS index_bytes,
           (pg_total_relation_size(s.relid) - pg_relation_size(s.relid) - pg_indexes_size(s.relid))::float8 AS toast_bytes,
           s.n_tup_ins::float8 AS inserted,
           s.n_tup_upd::float8 AS updated,
           s.n_tup_hot_upd::float8 AS hot_updated,
           s.n_tup_del::float8 AS deleted,
           s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
           s.vacuum_count::float8 AS vacuum_count, s.autovacuum_count::float8 AS autovacuum_count
    FROM pg_stat_user_tables s
    WHERE s.schemaname = current_schema()
    ORDER BY pg_total_relation_size(s.relid) DESC, s.relname`
}

export interface OpenTransaction {
  pid: number
  application_name: string
  /** address:port, or "local" for a unix socket. */
  client: string
  user: string | null
  state: string | null
  xact_start: Date
  query_start: Date | null
  /** Seconds since the transaction began. */
  age_secs: number
  /** Transactions begun since its snapshot: how far it holds the horizon back (null without one). */
  xmin_age: number | null
  wait_event: string | null
  /** The session's current or last statement, cut to 200 characters. */
  query: string
}

/**
 * Open transactions on this database, oldest first, other than the caller's own. Since
 * PostgreSQL 14 only sessions on the same database hold back its tables' horizon.
 */
export async function openTransactions(sql: Sql, limit = 5): Promise<OpenTransaction[]> {
  return sql<OpenTransaction[]>`
    SELECT pid, application_name,
           CASE WHEN client_addr IS NULL THEN 'local' ELSE host(client_addr) || ':' || client_port END AS client,
           usename::text AS user, state, xact_start, query_start,
           extract(epoch FROM clock_timestamp() - xact_start)::float8 AS age_secs,
           age(backend_xmin)::int AS xmin_age,
           CASE WHEN wait_event IS NULL THEN NULL ELSE wait_event_type || ':' || wait_event END AS wait_event,
           left(query, 200) AS query
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
    ORDER BY xact_start
    LIMIT ${limit}`
}

export interface ServerFacts {
  version: string
  database: string
  database_bytes: number
  /** Off on some servers (this project's CI machine): then nothing reclaims dead rows by itself. */
  autovacuum: boolean
  /** Prepared (two-phase) transactions also hold the horizon and outlive their session. */
  prepared_transactions: number
}

export async function serverFacts(sql: Sql): Promise<ServerFacts> {
  const [row] = await sql<ServerFacts[]>`
    SELECT current_setting('server_version') AS version, current_database()::text AS database,
           pg_database_size(current_database())::float8 AS database_bytes,
           current_setting('autovacuum') = 'on' AS autovacuum,
           (SELECT count(*)::int FROM pg_prepared_xacts WHERE database = current_database()) AS prepared_transactions`
  return row!
}
