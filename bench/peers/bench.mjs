// Copy of ../shared/bench/peers/bench.mjs (the harness that produced the peers' published numbers),
// run by bench/run.ts with `node` once per phase. Changes from the original, nothing else:
//  - versions come from the project's node_modules (no npm install here);
//  - PGBOSS_POLL=0 skips the pg-boss "NOTIFY off" rows (not a target; saves time in --quick);
//  - the plain-INSERT pool ignores errors of backends terminated by its own DROP DATABASE;
//  - database names start with DB_PREFIX (default bench) so concurrent runs do not collide;
//  - the JSON goes to OUT_JSON and nothing is printed on stdout (bench/run.ts draws the table).
import { fork } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import {
  createDb,
  dbUrl,
  dropDb,
  freezeTemplate,
  nowMs,
  resetFromTemplate,
  runPool,
  sleep,
  summarizeLatencies,
  withClient,
} from './lib/common.mjs'
import * as gw from './lib/gw.mjs'
import * as pgboss from './lib/pgboss.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? process.env[k] : d)

const CFG = {
  repeats: Number(env('REPEATS', 3)),
  enqueueN: Number(env('ENQUEUE_N', 10000)),
  batchSize: Number(env('BATCH_SIZE', 1000)),
  inflight: Number(env('INFLIGHT', 16)),
  processN: Number(env('PROCESS_N', 20000)),
  processCapS: Number(env('PROCESS_CAP_S', 120)),
  concurrencies: env('CONCURRENCIES', '10,50').split(',').map(Number),
  latSamples: Number(env('LAT_SAMPLES', 200)),
  latGapMs: Number(env('LAT_GAP_MS', 20)),
  latWarmup: Number(env('LAT_WARMUP', 20)),
  latRepeats: Number(env('LAT_REPEATS', 3)),
  crashTimeoutS: Number(env('CRASH_TIMEOUT_S', 300)),
  crashSleepMs: 60_000,
  phases: env('PHASES', 'enqueue,process,latency,crash').split(','),
  extras: env('EXTRAS', '0') === '1',
  rawBaseline: env('RAW_BASELINE', '1') === '1',
  pgbossPoll: env('PGBOSS_POLL', '1') === '1',
}

// The packages' main entries live in dist/; walk up to the package.json that names them.
function pkgVersion(name) {
  let dir = path.dirname(createRequire(import.meta.url).resolve(name))
  for (;;) {
    const file = path.join(dir, 'package.json')
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
      if (pkg.name === name) return pkg.version
    }
    dir = path.dirname(dir)
  }
}

const LIBS = { gw, pgboss }
const LIB_NAMES = { gw: gw.name, pgboss: pgboss.name, raw: 'plain INSERT (reference)' }
// Database names carry a per-run prefix so that a concurrent run of the shared harness (which
// uses bench_*) or of another bench cannot drop this run's databases.
const DB_PREFIX = env('DB_PREFIX', 'bench')
const DB = { gw: `${DB_PREFIX}_gw`, pgboss: `${DB_PREFIX}_pgboss` }
const TPL = { gw: `${DB_PREFIX}_gw_tpl`, pgboss: `${DB_PREFIX}_pgboss_tpl` }

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a)

// ---------------------------------------------------------------- child helper
class Child {
  constructor(args) {
    this.args = args
    this.msgs = []
    this.waiters = []
    this.proc = fork(path.join(here, 'worker.mjs'), [JSON.stringify(args)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal }
        for (const w of this.waiters)
          w.reject(new Error(`worker exited (${code ?? signal}) before '${w.type}'`))
        this.waiters = []
        resolve(this.exitInfo)
      })
    })
    this.proc.on('message', (m) => {
      this.msgs.push(m)
      this.waiters = this.waiters.filter((w) => {
        if (w.type === m.type && w.pred(m)) {
          clearTimeout(w.timer)
          w.resolve(m)
          return false
        }
        return true
      })
    })
  }
  msg(type) {
    return this.msgs.find((m) => m.type === type)
  }
  waitFor(type, timeoutMs, pred = () => true) {
    const found = this.msgs.find((m) => m.type === type && pred(m))
    if (found) return Promise.resolve(found)
    if (this.exitInfo) return Promise.reject(new Error(`worker already exited before '${type}'`))
    return new Promise((resolve, reject) => {
      const w = { type, pred, resolve, reject }
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w)
        const e = new Error(`timeout waiting for '${type}'`)
        e.timeout = true
        reject(e)
      }, timeoutMs)
      this.waiters.push(w)
    })
  }
  kill() {
    if (!this.exitInfo) this.proc.kill('SIGKILL')
    return this.exited
  }
  async stop() {
    if (this.exitInfo) return
    this.proc.send({ type: 'stop' })
    const t = setTimeout(() => this.kill(), 15_000)
    await this.exited
    clearTimeout(t)
  }
}

const range = (a, b) => Array.from({ length: b - a }, (_, k) => a + k)

async function pending(client, lib) {
  const { rows } = await client.query(lib.pendingSql)
  return rows[0].n
}

// ---------------------------------------------------------------- measurements
// Reference point: plain INSERTs into a bare table (no queue library), same
// concurrency and batch sizes. The ceiling this machine allows for enqueueing.
const RAW_DB = `${DB_PREFIX}_raw`
async function measureRawEnqueue(mode) {
  await createDb(RAW_DB)
  const pool = new pg.Pool({ connectionString: dbUrl(RAW_DB), max: CFG.inflight })
  // Added in this copy: a backend still closing when DROP DATABASE ... WITH (FORCE) runs is
  // terminated, and without a handler that error event killed the whole harness (3 runs of 4 here).
  pool.on('error', () => {})
  try {
    await pool.query(
      'create table jobs (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now())',
    )
    const N = CFG.enqueueN
    let t0
    let t1
    if (mode === 'single') {
      const one = (payload) =>
        pool.query({ name: 'ins', text: 'insert into jobs (payload) values ($1)', values: [payload] })
      await runPool(4 * CFG.inflight, CFG.inflight, (i) => one({ w: i }))
      t0 = nowMs()
      await runPool(N, CFG.inflight, (i) => one({ i }))
      t1 = nowMs()
    } else {
      const many = (payloads) =>
        pool.query({
          name: 'insm',
          text: 'insert into jobs (payload) select * from unnest($1::jsonb[])',
          values: [payloads.map((p) => JSON.stringify(p))],
        })
      await many([{ w: 0 }, { w: 1 }])
      const payloads = range(0, N).map((i) => ({ i }))
      t0 = nowMs()
      for (let k = 0; k < N; k += CFG.batchSize) await many(payloads.slice(k, k + CFG.batchSize))
      t1 = nowMs()
    }
    return { jobsPerSec: N / ((t1 - t0) / 1000), ms: t1 - t0 }
  } finally {
    await pool.end()
    await dropDb(RAW_DB)
  }
}

async function measureEnqueue(key, mode, kind) {
  const lib = LIBS[key]
  const db = DB[key]
  await resetFromTemplate(db, TPL[key])
  const url = dbUrl(db)
  const N = CFG.enqueueN
  const p = await lib.producer(url, { poolSize: CFG.inflight, kind })
  let t0
  let t1
  if (mode === 'single') {
    // warm-up: open all pool connections, prepare statements
    await runPool(4 * CFG.inflight, CFG.inflight, (i) => p.addOne('noop', { w: i }))
    t0 = nowMs()
    await runPool(N, CFG.inflight, (i) => p.addOne('noop', { i }))
    t1 = nowMs()
  } else {
    await p.addBatch('noop', [{ w: 0 }, { w: 1 }])
    const payloads = range(0, N).map((i) => ({ i }))
    t0 = nowMs()
    for (let k = 0; k < N; k += CFG.batchSize) {
      await p.addBatch('noop', payloads.slice(k, k + CFG.batchSize))
    }
    t1 = nowMs()
  }
  await p.close()
  const count = await withClient(db, (c) => pending(c, lib))
  const warm = mode === 'single' ? 4 * CFG.inflight : 2
  if (count !== N + warm) throw new Error(`${key} enqueue ${mode}: expected ${N + warm} jobs, found ${count}`)
  return { jobsPerSec: N / ((t1 - t0) / 1000), ms: t1 - t0 }
}

async function measureProcess(key, kind, concurrency, capS = CFG.processCapS) {
  const lib = LIBS[key]
  const db = DB[key]
  await resetFromTemplate(db, TPL[key])
  const url = dbUrl(db)
  const N = CFG.processN
  const p = await lib.producer(url, { poolSize: 2, kind })
  const payloads = range(0, N).map((i) => ({ i }))
  for (let k = 0; k < N; k += CFG.batchSize) await p.addBatch('noop', payloads.slice(k, k + CFG.batchSize))
  await p.close()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('ANALYZE')
    const before = await pending(client, lib)
    if (before !== N) throw new Error(`${key} process: expected ${N} queued, found ${before}`)
    const child = new Child({ lib: key, db, kind, concurrency, phase: 'process', expect: N })
    try {
      const starting = await child.waitFor('starting', 30_000)
      const first = await child.waitFor('first', 60_000)
      let handled
      try {
        handled = await child.waitFor('handled', capS * 1000 - (nowMs() - first.t))
      } catch (e) {
        if (!e.timeout) throw e
        // Too slow to finish: report the rate over the capped window instead.
        const t = nowMs()
        const done = N - (await pending(client, lib))
        return {
          jobsPerSec: done / ((t - first.t) / 1000),
          capped: true,
          completed: done,
          windowMs: t - first.t,
        }
      }
      let tEnd
      for (;;) {
        if ((await pending(client, lib)) === 0) {
          tEnd = nowMs()
          break
        }
        if (nowMs() - handled.t > 60_000)
          throw new Error(`${key} process: jobs still pending 60 s after all handlers ran`)
        await sleep(5)
      }
      const ready = child.msg('ready')
      return {
        jobsPerSec: N / ((tEnd - first.t) / 1000),
        jobsPerSecInclStartup: N / ((tEnd - starting.t) / 1000),
        startupMs: first.t - starting.t,
        readyMs: ready ? ready.t - starting.t : null,
        handlersDoneMs: handled.t - first.t,
        allCompletedMs: tEnd - first.t,
      }
    } finally {
      await child.stop()
    }
  } finally {
    await client.end()
  }
}

async function measureLatency(key, kind) {
  const lib = LIBS[key]
  const db = DB[key]
  await resetFromTemplate(db, TPL[key])
  const url = dbUrl(db)
  const S = CFG.latSamples
  const child = new Child({ lib: key, db, kind, concurrency: 10, phase: 'latency', expect: S })
  const p = await lib.producer(url, { poolSize: 2, kind })
  try {
    await child.waitFor('ready', 30_000)
    for (let i = 0; i < CFG.latWarmup; i++) {
      await p.addOne('lat', { warm: true, t: nowMs() })
      await sleep(CFG.latGapMs)
    }
    await sleep(1000)
    const callMs = []
    const start = nowMs()
    for (let i = 0; i < S; i++) {
      const wait = start + i * CFG.latGapMs - nowMs()
      if (wait > 0) await sleep(wait)
      const t = nowMs()
      await p.addOne('lat', { t, i })
      callMs.push(nowMs() - t)
    }
    const msg = await child.waitFor('lat', 60_000)
    return { ...summarizeLatencies(msg.values), enqueueCallP50: summarizeLatencies(callMs).p50 }
  } finally {
    await p.close()
    await child.stop()
  }
}

async function crashScenario(key, kind, db) {
  const lib = LIBS[key]
  await resetFromTemplate(db, TPL[key])
  const url = dbUrl(db)
  const args = { lib: key, db, kind, concurrency: 10, phase: 'crash' }
  const A = new Child(args)
  let B = null
  const p = await lib.producer(url, { poolSize: 2, kind })
  try {
    await A.waitFor('ready', 30_000)
    await p.addOne('long', { sleepMs: CFG.crashSleepMs })
    const s1 = await A.waitFor('long-start', 30_000)
    await sleep(2000) // the job is now well under way
    await A.kill()
    const tKill = nowMs()
    B = new Child(args)
    const readyB = await B.waitFor('ready', 30_000)
    let s2 = null
    try {
      s2 = await B.waitFor('long-start', CFG.crashTimeoutS * 1000 - (nowMs() - tKill))
    } catch (e) {
      if (!e.timeout) throw e
    }
    const waitedMs = nowMs() - tKill
    const { rows } = await withClient(db, (c) => c.query(lib.jobStateSql))
    return {
      recovered: !!s2,
      recoverMs: s2 ? s2.t - tKill : null,
      waitedMs,
      sameJob: s2 ? s2.id === s1.id : null,
      firstAttempt: s1.attempt,
      secondAttempt: s2 ? s2.attempt : null,
      newWorkerReadyMs: readyB.t - tKill,
      jobRowAtEnd: rows.map((r) => JSON.parse(JSON.stringify(r))),
    }
  } finally {
    await A.kill()
    if (B) await B.kill()
    await p.close()
    await dropDb(db)
  }
}

// ---------------------------------------------------------------- main
async function main() {
  const startedAt = new Date()
  const versions = {
    'graphile-worker': pkgVersion('graphile-worker'),
    'pg-boss': pkgVersion('pg-boss'),
    pg: pkgVersion('pg'),
    node: process.version,
  }
  versions.postgres = await withClient(
    'postgres',
    async (c) => (await c.query('show server_version')).rows[0].server_version,
  )
  log('versions', JSON.stringify(versions))
  log('config', JSON.stringify(CFG))

  // Fresh template databases for this run.
  for (const key of Object.keys(LIBS)) {
    await dropDb(DB[key])
    await createDb(TPL[key])
    await LIBS[key].prepareTemplate(dbUrl(TPL[key]))
    await freezeTemplate(TPL[key])
  }
  log('templates ready')

  const results = [] // { metric, lib, kind, concurrency, unit, samples: [...], extra: [...] }
  const add = (metric, key, kind, concurrency, unit, value, detail, rep = 0) => {
    let r = results.find(
      (x) => x.metric === metric && x.lib === key && x.kind === kind && x.concurrency === concurrency,
    )
    if (!r) {
      r = {
        metric,
        lib: key,
        libName: LIB_NAMES[key],
        kind,
        concurrency,
        unit,
        ...describe(metric, key, kind, concurrency),
        samples: [],
        reps: [],
        details: [],
      }
      results.push(r)
    }
    r.samples.push(value)
    r.reps.push(rep)
    r.details.push(detail)
  }

  const order = (rep) => (rep % 2 === 0 ? ['gw', 'pgboss'] : ['pgboss', 'gw'])

  for (let rep = 0; rep < CFG.repeats; rep++) {
    if (CFG.phases.includes('enqueue')) {
      for (const mode of ['single', 'batch']) {
        for (const key of order(rep)) {
          const r = await measureEnqueue(key, mode, 'rec')
          log(`rep ${rep + 1} enqueue ${mode} ${key}: ${r.jobsPerSec.toFixed(0)} jobs/s`)
          add(`enqueue_${mode}`, key, 'rec', null, 'jobs/s', r.jobsPerSec, r, rep)
        }
        if (CFG.pgbossPoll) {
          // pg-boss's default: queue without NOTIFY
          const r = await measureEnqueue('pgboss', mode, 'rec_poll')
          log(`rep ${rep + 1} enqueue ${mode} pgboss (notify off): ${r.jobsPerSec.toFixed(0)} jobs/s`)
          add(`enqueue_${mode}`, 'pgboss', 'rec_poll', null, 'jobs/s', r.jobsPerSec, r, rep)
        }
        if (CFG.rawBaseline) {
          const r = await measureRawEnqueue(mode)
          log(`rep ${rep + 1} enqueue ${mode} raw INSERT: ${r.jobsPerSec.toFixed(0)} rows/s`)
          add(`enqueue_${mode}`, 'raw', 'raw', null, 'jobs/s', r.jobsPerSec, r, rep)
        }
      }
    }
    if (CFG.phases.includes('process')) {
      const variants = []
      for (const c of CFG.concurrencies) variants.push(['rec', c])
      if (CFG.extras) variants.push(['default', 10], ['rec1', 10])
      for (const [kind, c] of variants) {
        for (const key of order(rep)) {
          if (kind === 'default' && key !== 'gw') continue // pg-boss defaults: see README
          if (kind === 'rec1' && key !== 'pgboss') continue
          const r = await measureProcess(key, kind, c, kind === 'rec1' ? 15 : CFG.processCapS)
          log(
            `rep ${rep + 1} process ${kind} c=${c} ${key}: ${r.jobsPerSec.toFixed(0)} jobs/s` +
              (r.capped
                ? ` (capped: ${r.completed} done in ${(r.windowMs / 1000).toFixed(0)} s)`
                : ` (startup ${r.startupMs.toFixed(0)} ms)`),
          )
          add(`process_c${c}`, key, kind, c, 'jobs/s', r.jobsPerSec, r, rep)
        }
      }
    }
  }

  if (CFG.phases.includes('latency')) {
    for (let rep = 0; rep < CFG.latRepeats; rep++) {
      const variants = [
        ['gw', 'rec'],
        ['pgboss', 'rec'],
        ['pgboss', 'rec_poll'],
      ].filter(([, kind]) => CFG.pgbossPoll || kind !== 'rec_poll')
      if (rep % 2 === 1) variants.reverse()
      for (const [key, kind] of variants) {
        const r = await measureLatency(key, kind)
        log(
          `rep ${rep + 1} latency ${key} ${kind}: p50 ${r.p50.toFixed(1)} p95 ${r.p95.toFixed(1)} p99 ${r.p99.toFixed(1)} ms`,
        )
        add('latency', key, kind, 10, 'ms', r, r, rep)
      }
    }
  }

  if (CFG.phases.includes('crash')) {
    const scenarios = [
      ['gw', 'rec', `${DB_PREFIX}_gw_crash`],
      ['pgboss', 'crash_hb', `${DB_PREFIX}_pgboss_crash_hb`],
      ['pgboss', 'crash_default', `${DB_PREFIX}_pgboss_crash_def`],
    ]
    log(`crash recovery: ${scenarios.length} scenarios in parallel, timeout ${CFG.crashTimeoutS} s`)
    const out = await Promise.all(
      scenarios.map(async ([key, kind, db]) => {
        const r = await crashScenario(key, kind, db)
        log(
          `crash ${key} ${kind}: ${r.recovered ? `re-run after ${(r.recoverMs / 1000).toFixed(1)} s` : `not re-run within ${CFG.crashTimeoutS} s`}`,
        )
        return [key, kind, r]
      }),
    )
    for (const [key, kind, r] of out) add('crash', key, kind, null, 's', r, r)
  }

  // Drop the working databases; keep nothing around between runs.
  for (const key of Object.keys(LIBS)) {
    await dropDb(DB[key])
    await dropDb(TPL[key]).catch(() => {})
  }

  const finishedAt = new Date()
  const out = { startedAt, finishedAt, versions, config: CFG, results }
  fs.writeFileSync(process.env.OUT_JSON, JSON.stringify(out, null, 2))
  log(`peers: ${CFG.phases.join(',')} done in ${((finishedAt - startedAt) / 1000).toFixed(0)} s`)
}

// Label (short) and settings (full) of one table row.
function describe(metric, key, kind, concurrency) {
  if (key === 'raw') {
    return {
      label: 'bare table, no queue',
      settings: `pg.Pool(max=${CFG.inflight}); INSERT ... VALUES ($1) / INSERT ... SELECT unnest($1::jsonb[]); no NOTIFY`,
    }
  }
  if (metric.startsWith('enqueue')) return LIBS[key].describeProducer(kind, CFG.inflight, CFG.batchSize)
  return LIBS[key].describeWorker(kind, concurrency ?? 10, metric)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
