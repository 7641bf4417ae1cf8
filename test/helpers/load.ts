// Enqueue through the engine's own enqueueBatch (validation, strategy resolution, events) the way
// the API does, then wake the workers with one NOTIFY, as the API's notifier would.
import type { Sql } from '../../src/db/connect'
import { BATCH_LIMIT, type EnqueueDefaults, enqueueBatch, type NewTask } from '../../src/queue/enqueue'
import { TASKS_CHANNEL } from '../../src/queue/notify'
import { defaultRetryStrategy } from '../../src/queue/retry'
import type { Task } from '../../src/queue/task'

/** Short fixed retries so a rescued or failed attempt is retried within a test's patience. */
export const TEST_DEFAULTS: EnqueueDefaults = {
  maxAttempts: 3,
  retryStrategy: defaultRetryStrategy(100, 3),
}

export async function enqueueAll(sql: Sql, tasks: NewTask[], defaults = TEST_DEFAULTS): Promise<Task[]> {
  const out: Task[] = []
  for (let i = 0; i < tasks.length; i += BATCH_LIMIT) {
    const results = await enqueueBatch(sql, tasks.slice(i, i + BATCH_LIMIT), { createdBy: null, defaults })
    out.push(...results.map((r) => r.task))
  }
  await wakeWorkers(sql)
  return out
}

/**
 * What another process's enqueue sends: one NOTIFY on the tasks channel, awaited. (The Notifier of
 * src/queue/notify.ts debounces it without a promise and also wakes its own process's workers,
 * which a test standing in for another process must not do.)
 */
export async function wakeWorkers(sql: Sql): Promise<void> {
  await sql`SELECT pg_notify(${TASKS_CHANNEL}, '')`
}

export function delayTasks(n: number, delaySeconds: number, extra: Partial<NewTask> = {}): NewTask[] {
  return Array.from({ length: n }, () => ({
    task_type: 'delay_task',
    payload: { delay_seconds: delaySeconds },
    ...extra,
  }))
}
