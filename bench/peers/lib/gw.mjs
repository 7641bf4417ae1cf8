// graphile-worker adapter.
import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker'
import pg from 'pg'

export const name = 'graphile-worker'

// Only warnings and errors; the default logger prints a line per job failure
// and at startup.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[gw ${level}] ${message}`)
})

// Worker configurations. "rec" follows the "Batching" section of the
// graphile-worker performance docs (worker.graphile.org/docs/performance):
//   localQueue.size = concurrentJobs + 1, completeJobBatchDelay = 250,
//   failJobBatchDelay = 250, and maxPoolSize = max(10, concurrentJobs + 2)
// ("worker.maxPoolSize" docs). "default" is the out-of-the-box behaviour
// (no local queue, no batched completion).
export function workerConfig(kind, concurrency) {
  const maxPoolSize = Math.max(10, concurrency + 2)
  if (kind === 'rec') {
    return {
      concurrentJobs: concurrency,
      maxPoolSize,
      localQueue: { size: concurrency + 1 },
      completeJobBatchDelay: 250,
      failJobBatchDelay: 250,
    }
  }
  if (kind === 'default') {
    return { concurrentJobs: concurrency, maxPoolSize }
  }
  throw new Error(`unknown gw config ${kind}`)
}

export function describeWorker(kind, concurrency, metric) {
  const c = workerConfig(kind, concurrency)
  const settings = `${Object.entries(c)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ')}; LISTEN/NOTIFY always on; pollInterval=2000 (default)`
  let label = kind === 'rec' ? 'recommended batching' : 'defaults (no local queue, no batched completion)'
  if (metric === 'crash') {
    label += '; no crash-timeout setting'
    return {
      label,
      settings:
        settings +
        '. Jobs of a dead worker stay locked until resetLockedAt finds locked_at older than 4 h (hard-coded threshold; ' +
        'configurable only with the proprietary Worker Pro heartbeat/sweep).',
    }
  }
  return { label, settings }
}

export function describeProducer(_kind, poolSize) {
  return {
    label: 'addJob / addJobs',
    settings: `makeWorkerUtils({ pgPool: pg.Pool(max=${poolSize}) }); addJob() per job, addJobs() per batch; add_job(s) always pg_notify`,
  }
}

export async function prepareTemplate(url) {
  await runMigrations({ connectionString: url, logger })
}

export async function producer(url, { poolSize }) {
  const pool = new pg.Pool({ connectionString: url, max: poolSize })
  // graphile-worker asks for both pool-level and client-level error handlers.
  pool.on('error', (e) => console.error('[gw producer pool]', e.message))
  pool.on('connect', (client) => client.on('error', (e) => console.error('[gw producer client]', e.message)))
  const utils = await makeWorkerUtils({ pgPool: pool, logger })
  return {
    addOne: (task, payload) => utils.addJob(task, payload),
    addBatch: (task, payloads) => utils.addJobs(payloads.map((payload) => ({ identifier: task, payload }))),
    async close() {
      await utils.release()
      await pool.end().catch(() => {})
    },
  }
}

// Jobs not yet completed (completed jobs are deleted by graphile-worker).
export const pendingSql = 'select count(*)::int as n from graphile_worker._private_jobs'

// Start a worker in this process. handlers: { noop(payload), lat(payload), long(payload, meta) }
export async function startWorker(url, cfg, handlers, _tasks) {
  const taskList = {
    noop: async (payload) => handlers.noop(payload),
    lat: async (payload) => handlers.lat(payload),
    long: async (payload, helpers) =>
      handlers.long(payload, { id: String(helpers.job.id), attempt: helpers.job.attempts }),
  }
  const runner = await run({
    connectionString: url,
    concurrency: cfg.concurrentJobs,
    noHandleSignals: true,
    logger,
    taskList,
    crontab: '',
    preset: { worker: { ...cfg } },
  })
  return {
    async stop() {
      await runner.stop()
    },
  }
}

export function queueFor(task) {
  return task
}

// State of the crash-test job, for the report.
export const jobStateSql =
  'select id::text, attempts, max_attempts, locked_at, locked_by from graphile_worker._private_jobs'
