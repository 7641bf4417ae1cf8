// pg-boss adapter.
import { PgBoss } from 'pg-boss'

export const name = 'pg-boss'

// Queues created in the template database.
//   noop, lat  : notify=true (wake workers via LISTEN/NOTIFY, needs useListenNotify)
//   lat_poll   : pg-boss defaults (no NOTIFY: polling only)
//   long_hb    : notify=true, heartbeatSeconds=10 (the minimum pg-boss accepts), so a
//                crashed worker's job is failed+retried once its heartbeat goes stale
//   long       : pg-boss defaults (expireInSeconds=900, no heartbeat)
const QUEUES = {
  noop: { notify: true },
  lat: { notify: true },
  lat_poll: {},
  noop_poll: {},
  long_hb: { notify: true, heartbeatSeconds: 10 },
  long: {},
}

// Worker configurations (constructor options, work() options, queue per task).
//
// "rec" (throughput): pg-boss's throughput levers are fetch batching (batchSize),
// parallel fetch loops (localConcurrency) and burst mode (burstWhenBatchFull: keep
// fetching with no delay while fetches come back full). Jobs in flight at once
// = localConcurrency x batchSize = the requested concurrency. LISTEN/NOTIFY is on
// (useListenNotify + queue notify) so idle workers wake immediately.
// Without batching, each pg-boss fetch loop sleeps its polling interval
// (>= 0.5 s; 30 s backstop when NOTIFY is active) after every fetch, so
// batchSize=1 workers top out at localConcurrency / pollingIntervalSeconds jobs/s.
//
// "rec_poll": as "rec" at concurrency 10 but without LISTEN/NOTIFY (pg-boss's
// default), i.e. polling every 2 s (default pollingIntervalSeconds).
// Note: pure pg-boss defaults (batchSize 1, localConcurrency 1, poll 2 s) handle
// at most one job per 2 s, so they cannot keep up with the latency test's
// 50 jobs/s and are not measured.
//
// "crash_hb": the shorter crash-detection settings pg-boss allows: queue
// heartbeatSeconds=10 (min), supervise/monitor every 5 s (defaults 60 s),
// and workers poll every 2 s even with NOTIFY on (a job retried by the
// supervisor is not announced via NOTIFY; the NOTIFY-mode backstop is 30 s).
//
// "crash_default": pg-boss defaults; a crashed worker's job is only expired after
// expireInSeconds=900 (15 min) + up to one 60 s supervise pass.
export function workerConfig(kind, concurrency = 10) {
  if (kind === 'rec') {
    const batchSize = Math.min(10, concurrency)
    const localConcurrency = Math.ceil(concurrency / batchSize)
    return {
      ctor: { useListenNotify: true, max: Math.max(10, localConcurrency + 4) },
      work: { batchSize, localConcurrency, burstWhenBatchFull: true },
      queues: { noop: 'noop', lat: 'lat', long: 'long_hb' },
    }
  }
  if (kind === 'rec1') {
    // Unbatched variant (one job per fetch, `concurrency` fetch loops) - for reference.
    return {
      ctor: { useListenNotify: true, max: Math.max(10, concurrency + 4) },
      work: { batchSize: 1, localConcurrency: concurrency },
      queues: { noop: 'noop', lat: 'lat', long: 'long_hb' },
    }
  }
  if (kind === 'rec_poll') {
    // Same worker, LISTEN/NOTIFY off (pg-boss's default): idle workers poll
    // every pollingIntervalSeconds (default 2 s).
    return {
      ctor: { max: 10 },
      work: { batchSize: 10, localConcurrency: 1, burstWhenBatchFull: true },
      queues: { noop: 'noop_poll', lat: 'lat_poll', long: 'long' },
    }
  }
  if (kind === 'crash_hb') {
    return {
      ctor: { useListenNotify: true, superviseIntervalSeconds: 5, monitorIntervalSeconds: 5 },
      work: { includeMetadata: true, notifyPollingIntervalSeconds: 2 },
      queues: { noop: 'noop', lat: 'lat', long: 'long_hb' },
    }
  }
  if (kind === 'crash_default') {
    return {
      ctor: {},
      work: { includeMetadata: true },
      queues: { noop: 'lat_poll', lat: 'lat_poll', long: 'long' },
    }
  }
  throw new Error(`unknown pg-boss config ${kind}`)
}

const LABELS = {
  rec: 'batch+burst, NOTIFY on',
  rec1: 'batchSize 1, NOTIFY on',
  rec_poll: 'batch+burst, NOTIFY off (poll 2 s)',
  crash_hb: 'heartbeatSeconds 10, supervise 5 s',
  crash_default: 'defaults (expireInSeconds 900)',
}

export function describeWorker(kind, concurrency) {
  const c = workerConfig(kind, concurrency)
  const fmt = (o) =>
    Object.entries(o)
      .filter(([k]) => k !== 'includeMetadata')
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
  const q = c.queues.long && kind.startsWith('crash') ? c.queues.long : c.queues.noop
  const qopts = Object.entries(QUEUES[q])
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  let settings = `new PgBoss({${fmt(c.ctor) || 'defaults'}}), work({${fmt(c.work) || 'defaults'}}), queue ${q} {${qopts || 'defaults'}}`
  if (kind === 'crash_hb')
    settings +=
      '. Expected: heartbeat goes stale 10 s after its last refresh (refreshed every 5 s) + next supervise pass (<=5 s) + next poll (<=2 s), i.e. ~5-17 s.'
  if (kind === 'crash_default')
    settings += '. Expected: expireInSeconds=900 + next supervise pass (<=60 s), i.e. 15-16 min.'
  return { label: LABELS[kind] ?? kind, settings }
}

export function describeProducer(kind, poolSize) {
  const q = workerConfig(kind).queues.noop
  return {
    label: kind === 'rec' ? 'send / insert, queue notify on' : 'send / insert, queue notify off (default)',
    settings: `new PgBoss({max=${poolSize}}) (supervision at defaults); send() per job, insert() per batch; queue ${q} {${
      Object.entries(QUEUES[q])
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'defaults'
    }}`,
  }
}

export function queueFor(task, kind) {
  return workerConfig(kind).queues[task]
}

function attachLogging(boss, label) {
  boss.on('error', (e) => console.error(`[pg-boss ${label} error]`, e?.message || e))
  boss.on('warning', (w) => {
    if (process.env.BENCH_VERBOSE) console.error(`[pg-boss ${label} warning]`, w?.message || w)
  })
}

export async function prepareTemplate(url) {
  const boss = new PgBoss({ connectionString: url })
  attachLogging(boss, 'setup')
  await boss.start()
  for (const [q, opts] of Object.entries(QUEUES)) await boss.createQueue(q, opts)
  await boss.stop({ graceful: false, close: true })
}

export async function producer(url, { poolSize, kind = 'rec' }) {
  // A producer instance: supervision/scheduling are left at their defaults,
  // as an application that only sends jobs would have them.
  const boss = new PgBoss({ connectionString: url, max: poolSize })
  attachLogging(boss, 'producer')
  await boss.start()
  return {
    addOne: (task, payload) => boss.send(queueFor(task, kind), payload),
    addBatch: (task, payloads) =>
      boss.insert(
        queueFor(task, kind),
        payloads.map((data) => ({ data })),
      ),
    async close() {
      await boss.stop({ graceful: false, close: true })
    },
  }
}

// Jobs not yet completed.
export const pendingSql = "select count(*)::int as n from pgboss.job where state < 'completed'"

export async function startWorker(url, cfg, handlers, tasks) {
  const boss = new PgBoss({ connectionString: url, ...cfg.ctor })
  attachLogging(boss, 'worker')
  await boss.start()
  const wrap = {
    noop: async (jobs) => {
      await Promise.all(jobs.map((j) => handlers.noop(j.data)))
    },
    lat: async (jobs) => {
      await Promise.all(jobs.map((j) => handlers.lat(j.data)))
    },
    long: async (jobs) => {
      await Promise.all(jobs.map((j) => handlers.long(j.data, { id: String(j.id), attempt: j.retryCount })))
    },
  }
  for (const t of tasks) await boss.work(cfg.queues[t], { ...cfg.work }, wrap[t])
  return {
    async stop() {
      await boss.stop({ graceful: false, close: true, timeout: 2000 })
    },
  }
}

// State of the crash-test job, for the report.
export const jobStateSql =
  "select id::text, name, state::text, retry_count, started_on, heartbeat_on from pgboss.job where name like 'long%'"
