// Every setting of the embedded PostgreSQL, in this one place, passed as `-c name=value` at each
// start (so a newer tasklab changes them without touching postgresql.conf). The server is a local
// development tool's database: one user, a laptop's memory, data worth keeping but not worth a
// battery's worth of fsyncs. Anything not listed keeps PostgreSQL's default.

export interface Placement {
  port: number
  socketDir: string
}

export function serverSettings({ port, socketDir }: Placement): Record<string, string> {
  return {
    // Reachable from this machine only: trust authentication (pg_hba.conf) is safe on loopback alone.
    listen_addresses: '127.0.0.1',
    // A free port chosen at start (the previous one when free, so psql sessions and joined workers
    // find the server again after a restart).
    port: String(port),
    // tasklab's own connections use the unix socket (faster than TCP); 0700 so only this user's
    // processes reach it.
    unix_socket_directories: socketDir,
    unix_socket_permissions: '0700',
    // Several `tasklab worker` processes (pool 10 + a LISTEN connection each), the API, psql and
    // the chaos lab's cluster fit; each slot costs ~10 kB of shared memory until used.
    max_connections: '100',
    // Small: the queue's working set is a few MB, and every backend that touches a shared buffer
    // counts it in its RSS. 16 MB keeps tasklab + postgres under the 150 MB target (the default
    // 128 MB would not), and the OS page cache still holds the rest of the data.
    shared_buffers: '16MB',
    // fsync stays on: with it off, an OS crash or power loss can corrupt the whole cluster, and the
    // user's tasks live here. The cost is taken off the hot path by synchronous_commit below.
    fsync: 'on',
    // A commit returns before its WAL reaches the disk; the WAL writer flushes it within
    // wal_writer_delay (200 ms). An OS crash may lose the last fraction of a second of
    // transitions — never consistency — and a killed tasklab or postgres loses nothing.
    synchronous_commit: 'off',
    // No replication from a dev tool's database: minimal WAL is smaller and faster to write.
    wal_level: 'minimal',
    max_wal_senders: '0',
    // Fewer, larger checkpoints while a benchmark or flood runs; disk use stays small at rest.
    max_wal_size: '256MB',
    min_wal_size: '32MB',
    // ON: a queue updates and deletes rows all day; without vacuum the tasks table and its indexes
    // bloat and the claim query slows down.
    autovacuum: 'on',
    // PostgreSQL 18 starts 3 I/O worker processes by default; synchronous I/O is plenty for a
    // database this size and saves three processes' memory.
    io_method: 'sync',
    // No logical replication: the launcher process is not started.
    max_logical_replication_workers: '0',
    // No parallel query on tables of this size: keeps the process count (and RSS) flat.
    max_parallel_workers_per_gather: '0',
    // The server's log goes to tasklab's log file for it (stderr); a crash report quotes its tail.
    logging_collector: 'off',
    log_min_messages: 'warning',
    log_line_prefix: '%m [%p] ',
    // The server runs as the user's own process: timestamps in UTC, like tasklab's own logs.
    timezone: 'UTC',
    log_timezone: 'UTC',
  }
}

/** As `-c name=value` arguments for the postgres program. */
export function settingsArgs(p: Placement): string[] {
  return Object.entries(serverSettings(p)).flatMap(([k, v]) => ['-c', `${k}=${v}`])
}

/** pg_hba.conf: trust, but only on the unix socket and on 127.0.0.1 (no other address listens). */
export const PG_HBA = `# Written by tasklab: the embedded server accepts connections from this machine only.
local all all trust
host all all 127.0.0.1/32 trust
`
