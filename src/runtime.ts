// Everything a tasklab process shares, opened once: configuration, logger, database pool (migrated),
// the event bus and the wake-up notifier. Commands build on it.
import type { Config } from './config'
import { connect, type Sql } from './db/connect'
import { migrate } from './db/migrate'
import { type Database, poolSizeFor, resolveDatabase } from './db/resolve'
import type { Logger } from './log'
import { setClaimPolicy } from './queue/claim'
import type { EnqueueDefaults } from './queue/enqueue'
import { QueueEventBus } from './queue/events'
import { Notifier } from './queue/notify'
import { defaultRetryStrategy } from './queue/retry'

export interface Runtime {
  config: Config
  log: Logger
  sql: Sql
  db: Database
  events: QueueEventBus
  notifier: Notifier
  enqueueDefaults: EnqueueDefaults
  close(): Promise<void>
}

export function enqueueDefaultsOf(config: Config): EnqueueDefaults {
  return {
    maxAttempts: config.worker.maxRetries,
    retryStrategy: defaultRetryStrategy(config.worker.retryBackoffBaseMs, config.worker.maxRetries),
  }
}

export async function openRuntime(config: Config, log: Logger, role: string): Promise<Runtime> {
  const db = await resolveDatabase(config, log, role)
  const sql = connect(db.url, {
    max: poolSizeFor(db, config.database.poolSize),
    applicationName: `tasklab-${role}`,
  })
  const applied = await migrate(sql)
  setClaimPolicy(sql, { maxRunningPerUser: config.worker.maxRunningPerUser })
  for (const m of applied) log.info('applied migration', { migration: m.name })
  const events = new QueueEventBus()
  logTransitions(events, log)
  return {
    config,
    log,
    sql,
    db,
    events,
    notifier: new Notifier(sql),
    enqueueDefaults: enqueueDefaultsOf(config),
    async close() {
      await sql.end({ timeout: 5 })
      await db.close()
    },
  }
}

/** One log line per task transition this process made (CONTRACT: info level). */
export function logTransitions(events: QueueEventBus, log: Logger): void {
  // At warn (the benches, busy deployments) two transitions per task would build fields and a
  // message for nothing: ~3 % of a no-op attempt's worker CPU.
  const info = log.enabled?.('info') ?? true
  events.on('task:transition', (e) => {
    if (e.to !== 'failed' && !info) return
    const fields = {
      task: e.id,
      type: e.taskType,
      attempt: e.attempt,
      worker: e.workerId,
      ms: e.durationMs,
      error: e.error,
    }
    if (e.to === 'failed') log.warn(`task ${e.from ?? 'new'} → failed`, fields)
    else log.info(`task ${e.from ?? 'new'} → ${e.to}`, fields)
  })
}
