// GET /storage (admin): what the database holds, the dead rows waiting for VACUUM, the open
// transaction that stops VACUUM from removing them (and who holds it), the retention in force and
// the size a day from now at the current rate. The panel's Storage page and `tasklab chaos bloat`
// read it.
import { Elysia, t } from 'elysia'
import {
  type OpenTransaction,
  openTransactions,
  type ServerFacts,
  serverFacts,
  tableStorage,
} from '../../db/storage'
import { authenticate, requireAdmin } from '../auth/guard'
import { Ok, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { project, StorageHistory } from './history'
import { Storage } from './schemas'

/** A transaction open longer than this (seconds) is called out, unless the request names another. */
export const LONG_TRANSACTION_SECS = 60

export function storagePlugin(deps: ApiDeps) {
  const { sql, config } = deps
  const history = new StorageHistory(sql)

  return new Elysia({ name: 'tasklab-storage' })
    .onStop(() => history.stop())
    .get(
      '/storage',
      async ({ headers, query }) => {
        requireAdmin(await authenticate(sql, headers.authorization))
        const threshold = query.long_transaction_secs ?? LONG_TRANSACTION_SECS
        // One after the other, not in parallel: parallel queries on other pooled connections would
        // show up in the open-transaction list as this very request.
        const tables = await tableStorage(sql)
        const open = await openTransactions(sql)
        const server = await serverFacts(sql)
        const overrides = await sql<
          {
            task_type: string
            completed_secs: number | null
            cancelled_secs: number | null
            failed_secs: number | null
          }[]
        >`
        SELECT name AS task_type, retention_completed_secs AS completed_secs,
               retention_cancelled_secs AS cancelled_secs, retention_failed_secs AS failed_secs
        FROM task_types
        WHERE num_nonnulls(retention_completed_secs, retention_cancelled_secs, retention_failed_secs) > 0
        ORDER BY name`
        history.record(tables)
        const totals = {
          rows: tables.reduce((s, r) => s + r.rows, 0),
          dead_rows: tables.reduce((s, r) => s + r.dead_rows, 0),
          total_bytes: tables.reduce((s, r) => s + r.total_bytes, 0),
        }
        const oldest = open[0] ?? null
        return ok({
          at: new Date().toISOString(),
          server,
          tables,
          totals,
          oldest_transaction: oldest,
          open_transactions: open,
          long_transaction_secs: threshold,
          warnings: warnings(server, oldest, threshold, totals.dead_rows),
          retention: {
            completed_secs: config.retention.completedSecs,
            cancelled_secs: config.retention.cancelledSecs,
            failed_secs: config.retention.failedSecs,
            overrides: [...overrides],
          },
          projection: project(history.samples),
          history: history.samples,
        })
      },
      {
        query: t.Object({
          long_transaction_secs: t.Optional(
            t.Numeric({
              minimum: 0.1,
              maximum: 86_400,
              description: `warn above this age (${LONG_TRANSACTION_SECS})`,
            }),
          ),
        }),
        ...route(
          'storage',
          'Rows, bytes, dead rows and vacuum per table; the oldest open transaction and its session; retention; projected size (admin)',
          { answer: Ok(Storage), auth: true, errors: [403] },
        ),
      },
    )
}

/** Sentences for what needs a person's attention, naming the session to look at. */
export function warnings(
  server: ServerFacts,
  oldest: OpenTransaction | null,
  thresholdSecs: number,
  deadRows: number,
): string[] {
  const out: string[] = []
  if (oldest && oldest.age_secs > thresholdSecs)
    out.push(
      `A transaction has been open for ${Math.round(oldest.age_secs)} s: pid ${oldest.pid} ` +
        `(${oldest.application_name || 'no application_name'}, ${oldest.client}, ${oldest.state ?? 'unknown state'}). ` +
        `VACUUM cannot remove rows deleted or updated since it began (${deadRows.toLocaleString('en')} dead rows now); ` +
        `end it, or pg_terminate_backend(${oldest.pid}).`,
    )
  if (server.prepared_transactions > 0)
    out.push(
      `${server.prepared_transactions} prepared transaction(s) hold back VACUUM until COMMIT PREPARED or ROLLBACK PREPARED.`,
    )
  if (!server.autovacuum)
    out.push('autovacuum is off on this server: dead rows are reclaimed only by a manual VACUUM.')
  return out
}
