// An in-process Worker against a test database, with fast timings and no logs.
import type { Sql } from '../../src/db/connect'
import type { TaskHandler } from '../../src/handlers/contract'
import { silentLogger } from '../../src/log'
import { enqueue, type NewTask } from '../../src/queue/enqueue'
import { QueueEventBus } from '../../src/queue/events'
import { Notifier } from '../../src/queue/notify'
import { defaultRetryStrategy } from '../../src/queue/retry'
import type { Task } from '../../src/queue/task'
import { Worker, type WorkerOptions } from '../../src/worker/runner'

export function testWorker(sql: Sql, handlers: TaskHandler[], opts: Partial<WorkerOptions> = {}) {
  const events = new QueueEventBus()
  const notifier = new Notifier(sql)
  const worker = new Worker({
    sql,
    events,
    log: silentLogger,
    handlers,
    idSuffix: Math.random().toString(36).slice(2, 7),
    concurrency: 4,
    pollIntervalMs: 500,
    leaseMs: 30_000,
    shutdownGraceMs: 1000,
    defaultTimeoutMs: 30_000,
    notifier,
    ...opts,
  })
  const add = async (task: NewTask): Promise<Task> => {
    const { task: t } = await enqueue(sql, task, {
      createdBy: null,
      defaults: { maxAttempts: 3, retryStrategy: defaultRetryStrategy(10, 3) },
    })
    notifier.poke()
    return t
  }
  return { worker, events, notifier, add }
}

export async function statusOf(sql: Sql, id: string): Promise<Task> {
  const [t] = await sql<Task[]>`SELECT * FROM tasks WHERE id = ${id}`
  return t!
}
