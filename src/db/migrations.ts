// The SQL files are imported as text so `bun build --compile` embeds them in the binary.
// test/queue/states.test.ts fails when a file in migrations/ is missing from this list.
import m0001 from '../../migrations/0001_init.sql' with { type: 'text' }
import m0003 from '../../migrations/0003_chaos_faults.sql' with { type: 'text' }
import m0006 from '../../migrations/0006_retention.sql' with { type: 'text' }

export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: '0001_init.sql', sql: m0001 },
  { version: 3, name: '0003_chaos_faults.sql', sql: m0003 },
  { version: 6, name: '0006_retention.sql', sql: m0006 },
]
