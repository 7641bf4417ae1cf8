// Workers as the API lists them: alive or not (heartbeat within the worker's own lease) and how many
// tasks each holds now. Dead workers stay listed for a day (pruneWorkers) so the panel shows them.
import type { Sql } from '../db/connect'
import { LIVE_WORKER, type WorkerRow } from './workers'

export interface WorkerView extends WorkerRow {
  alive: boolean
  running_tasks: number
}

export async function listWorkers(sql: Sql): Promise<WorkerView[]> {
  return sql<WorkerView[]>`
    SELECT w.*, (${sql.unsafe(LIVE_WORKER)}) AS alive,
      (SELECT count(*)::int FROM tasks t WHERE t.status = 'running' AND t.locked_by = w.id) AS running_tasks
    FROM workers w
    ORDER BY alive DESC, w.started_at DESC`
}
