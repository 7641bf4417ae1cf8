import type { Sql } from './connect'
import { MIGRATIONS, type Migration } from './migrations'

// Any constant works; it only has to be the same in every tasklab process.
const MIGRATION_LOCK = 7_461_730_001

/**
 * Applies every migration not yet recorded, in one transaction under a transaction-scoped advisory
 * lock: processes starting together queue behind the first, then find nothing left to do.
 * Returns the migrations applied by this call.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[] = MIGRATIONS): Promise<Migration[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_migrations`
    const done = new Set(rows.map((r) => r.version))
    const newest = Math.max(0, ...done)
    const known = Math.max(0, ...migrations.map((m) => m.version))
    if (newest > known)
      throw new Error(
        `The database is at schema version ${newest}, newer than this tasklab knows (${known}); use a newer tasklab.`,
      )
    const todo = migrations.filter((m) => !done.has(m.version))
    for (const m of todo) {
      await tx.unsafe(m.sql)
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`
    }
    return todo
  })
}
