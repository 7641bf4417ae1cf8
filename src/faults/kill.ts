// POST /chaos/workers/{id}/kill: the API cannot reach into another process, so it publishes a
// control message; the target worker's chaos hook (src/faults/inject.ts) SIGKILLs its own process.
// Nothing is cleaned up: its running tasks stay `running` until their leases expire and rescue
// takes them, exactly as after a real kill -9.
import type { Sql } from '../db/connect'
import { sendControl } from '../queue/notify'
import { LIVE_WORKER, type WorkerRow } from '../queue/workers'
import { ChaosError } from './errors'

export async function killWorker(sql: Sql, id: string): Promise<WorkerRow> {
  const [worker] = await sql<
    WorkerRow[]
  >`SELECT * FROM workers WHERE id = ${id} AND ${sql.unsafe(LIVE_WORKER)}`
  if (!worker)
    throw new ChaosError(
      'WORKER_NOT_FOUND',
      `No live worker with id "${id.slice(0, 100)}"; GET /api/v1/workers lists them.`,
    )
  // A remote (HTTP) worker is a process tasklab does not run, perhaps on a machine it cannot reach.
  if (worker.kind === 'remote')
    throw new ChaosError(
      'WORKER_REMOTE',
      `Worker "${id.slice(0, 100)}" is a remote worker speaking the HTTP protocol: tasklab cannot signal a process it does not run. Kill it where it runs (kill -9); its tasks come back when their leases expire.`,
    )
  await sendControl(sql, { kind: 'kill', worker: id })
  return worker
}
