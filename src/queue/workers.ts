import type { Sql } from '../db/connect'

export interface WorkerRow {
  id: string
  host: string
  pid: number
  concurrency: number
  lease_ms: number
  task_types: string[]
  started_at: Date
  heartbeat_at: Date
  stopped_at: Date | null
  /** 'remote': a worker speaking the HTTP protocol (src/queue/remote.ts). */
  kind: 'process' | 'remote'
}

export async function registerWorker(
  sql: Sql,
  w: { id: string; host: string; pid: number; concurrency: number; leaseMs: number; types: string[] },
): Promise<void> {
  await sql`
    INSERT INTO workers (id, host, pid, concurrency, lease_ms, task_types)
    VALUES (${w.id}, ${w.host}, ${w.pid}, ${w.concurrency}, ${w.leaseMs}, ${w.types}::text[])
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, concurrency = excluded.concurrency,
      lease_ms = excluded.lease_ms, task_types = excluded.task_types, started_at = now(), heartbeat_at = now(),
      stopped_at = NULL`
}

export async function heartbeatWorker(sql: Sql, id: string): Promise<void> {
  await sql`UPDATE workers SET heartbeat_at = now(), stopped_at = NULL WHERE id = ${id}`
}

export async function stopWorker(sql: Sql, id: string): Promise<void> {
  await sql`UPDATE workers SET stopped_at = now() WHERE id = ${id}`
}

/** Alive = not stopped and heartbeating within its own lease. */
export const LIVE_WORKER = "stopped_at IS NULL AND heartbeat_at > now() - lease_ms * interval '1 millisecond'"

/** Forget workers that have been gone for a day (the panel shows recently dead ones). */
export async function pruneWorkers(sql: Sql): Promise<void> {
  await sql`DELETE FROM workers WHERE heartbeat_at < now() - interval '1 day'`
}
