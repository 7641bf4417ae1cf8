// Table and index sizes of the queue, for the soak's start-versus-end report.
import type { BenchDatabase } from '../lib/db'

export interface RelationSize {
  name: string
  bytes: number
}

/** The tasks heap, each of its indexes, and task_events (with its indexes), largest first. */
export async function queueSizes(db: BenchDatabase): Promise<RelationSize[]> {
  const rows = await db.sql<{ name: string; bytes: string }[]>`
    SELECT 'tasks (heap)' AS name, pg_relation_size('tasks')::text AS bytes
    UNION ALL
    SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid)::text
    FROM pg_index i WHERE i.indrelid = 'tasks'::regclass
    UNION ALL
    SELECT 'task_events (all)', pg_total_relation_size('task_events')::text`
  return rows.map((r) => ({ name: r.name, bytes: Number(r.bytes) })).sort((a, b) => b.bytes - a.bytes)
}

export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`
