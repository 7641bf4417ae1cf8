// The state machine lives in src/shared/states.ts, where the panel may import it too; the engine
// keeps importing it from here.
import type { Sql } from '../db/connect'
import type { TaskStatus } from '../shared/states'

export * from '../shared/states'

/**
 * States written into a statement as literals (`'pending', 'scheduled', 'retrying'`), not as a
 * parameter: the planner can match a partial index's predicate (tasks_ready_idx, tasks_running_idx)
 * only against constants it sees when it plans, and a prepared statement's generic plan sees none.
 */
export function sqlStates(sql: Sql, ...states: TaskStatus[]) {
  return sql.unsafe(states.map((s) => `'${s}'`).join(', '))
}
