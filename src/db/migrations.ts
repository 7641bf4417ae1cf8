// The SQL files are imported as text so `bun build --compile` embeds them in the binary.
// test/queue/states.test.ts fails when a file in migrations/ is missing from this list.
import m0001 from '../../migrations/0001_init.sql' with { type: 'text' }
import m0003 from '../../migrations/0003_chaos_faults.sql' with { type: 'text' }
import m0004 from '../../migrations/0004_lean_history.sql' with { type: 'text' }
import m0005 from '../../migrations/0005_claim.sql' with { type: 'text' }
import m0006 from '../../migrations/0006_time_ordered_ids.sql' with { type: 'text' }
import m0007 from '../../migrations/0007_handlers.sql' with { type: 'text' }
import m0008 from '../../migrations/0008_retention.sql' with { type: 'text' }
import m0009 from '../../migrations/0009_autovacuum.sql' with { type: 'text' }

export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: '0001_init.sql', sql: m0001 },
  { version: 3, name: '0003_chaos_faults.sql', sql: m0003 },
  { version: 4, name: '0004_lean_history.sql', sql: m0004 },
  { version: 5, name: '0005_claim.sql', sql: m0005 },
  { version: 6, name: '0006_time_ordered_ids.sql', sql: m0006 },
  { version: 7, name: '0007_handlers.sql', sql: m0007 },
  { version: 8, name: '0008_retention.sql', sql: m0008 },
  { version: 9, name: '0009_autovacuum.sql', sql: m0009 },
]
