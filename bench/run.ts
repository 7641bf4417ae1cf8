// bun run bench [--json out.json] [--quick] [--repeats N] [--only PHASES] [--baseline BIN] [--soak N]
// tasklab against graphile-worker and pg-boss on the same PostgreSQL, in one run: enqueue,
// processing, latency and rescue for all three; HTTP enqueue, 3 worker processes, memory, the
// soak and the paused-type claim for tasklab. Every measurement gets a fresh database. Prints a
// markdown table; --json writes everything (samples, settings, machine, versions). No speed is
// asserted anywhere.
//   --only enqueue,process,latency,memory,rescue,soak,paused   run only these phases
//   --baseline BIN   also measure processing and HTTP enqueue with another tasklab binary (e.g.
//                    the commit before a change), interleaved with the others, for a before/after
//                    in the same run
//   --soak N         tasks through the soak (1,000,000; --quick 5,000); 0 skips it
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { resolve } from 'node:path'
import postgres from 'postgres'
import { VERSION } from '../src/version'
import { TEST_SERVER_URL } from '../test/helpers/db'
import { type PeerRun, peerSamples, peerSettings, runPeers } from './lib/peers'
import { binaryPath, QUIET } from './lib/proc'
import { type Cell, type Row, renderTable } from './lib/report'
import { enqueueHttp, enqueueInProcess, type Rate } from './tasklab/enqueue'
import { latency } from './tasklab/latency'
import { memory } from './tasklab/memory'
import { pausedClaim } from './tasklab/paused-claim'
import { processDrain } from './tasklab/process'
import { rescue } from './tasklab/rescue'
import { mb } from './tasklab/sizes'
import { soak } from './tasklab/soak'

const argv = process.argv.slice(2)
const flag = (name: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? (argv[i + 1] ?? '') : undefined
}
const quick = argv.includes('--quick')
const PHASES = ['enqueue', 'process', 'latency', 'memory', 'rescue', 'soak', 'paused'] as const
const only = flag('--only')?.split(',') ?? [...PHASES]
for (const p of only)
  if (!(PHASES as readonly string[]).includes(p))
    throw new Error(`bench: unknown phase "${p}" in --only; phases: ${PHASES.join(', ')}`)
const run = (phase: (typeof PHASES)[number]) => only.includes(phase)
const baselineFlag = flag('--baseline')
const baseline = baselineFlag ? resolve(baselineFlag) : undefined
const S = {
  quick,
  repeats: Number(flag('--repeats') ?? (quick ? 1 : 3)),
  enqueue: { n: quick ? 1000 : 10_000, inflight: 16, batch: 1000, httpClients: 16 },
  processN: quick ? 2000 : 20_000,
  concurrencies: [10, 50, 100],
  multi: { processes: 3, concurrency: 10 },
  latency: { samples: quick ? 30 : 200, gapMs: 20, warmup: quick ? 5 : 20 },
  latencyRepeats: quick ? 1 : 3,
  leaseSecs: 2,
  crashTimeoutS: quick ? 20 : 30,
  memoryN: quick ? 2000 : 20_000,
  idleMs: quick ? 1500 : 3000,
  spawnedEnv: QUIET,
  soak: { n: Number(flag('--soak') ?? (quick ? 5000 : 1_000_000)), concurrency: 50 },
  pausedN: quick ? 20_000 : 200_000,
}
const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`)

/**
 * Runs a measurement, once more if it fails: others' tests on this shared server restart
 * PostgreSQL or terminate its backends now and then, which kills a measurement (the peers'
 * harness dies on it), not the point being measured. A second failure is real and ends the run.
 */
async function twice<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    log(`${what} failed (${err instanceof Error ? err.message : String(err)}); once more`)
    await Bun.sleep(2000)
    return fn()
  }
}
mkdirSync(`/tmp/tasklab-bench-${process.pid}`, { recursive: true })
// The built binary, journals and peer JSON live here; gone however the run ends.
process.on('exit', () => rmSync(`/tmp/tasklab-bench-${process.pid}`, { recursive: true, force: true }))

const peerEnv = {
  ENQUEUE_N: S.enqueue.n,
  INFLIGHT: S.enqueue.inflight,
  BATCH_SIZE: S.enqueue.batch,
  PROCESS_N: S.processN,
  CONCURRENCIES: S.concurrencies.join(','),
  LAT_SAMPLES: S.latency.samples,
  LAT_GAP_MS: S.latency.gapMs,
  LAT_WARMUP: S.latency.warmup,
  LAT_REPEATS: S.latencyRepeats,
  CRASH_TIMEOUT_S: S.crashTimeoutS,
  PGBOSS_POLL: quick ? 0 : 1,
  REPEATS: 1,
}

type Samples = Record<string, number[]>
const T: Samples = {}
const add = (key: string, v: number) => {
  T[key] ??= []
  T[key].push(v)
}
const details: Record<string, unknown[]> = {}
const keep = (key: string, v: unknown) => {
  details[key] ??= []
  details[key].push(v)
}
const peers: PeerRun[] = []
const started = new Date()
const bin = await binaryPath()
log(`tasklab ${VERSION} binary ${bin}; ${quick ? 'quick' : 'full'} run, ${S.repeats} repeat(s)`)

for (let rep = 0; rep < S.repeats; rep++) {
  for (const mode of run('enqueue') ? (['single', 'batch'] as const) : []) {
    const r = await twice('enqueue', () => enqueueInProcess(mode, S.enqueue))
    log(`rep ${rep + 1} tasklab enqueue ${mode} in-process: ${Math.round(r.perSec)}/s`)
    add(`enqueue_${mode}`, r.perSec)
    const h = await twice('HTTP enqueue', () => enqueueHttp(bin, mode, S.enqueue))
    const cpu = (x: Rate) => `, server CPU ${Math.round(x.serverCpuUs ?? Number.NaN)} µs/task`
    log(
      `rep ${rep + 1} tasklab enqueue ${mode} HTTP: ${h ? `${Math.round(h.perSec)}/s${cpu(h)}` : 'routes not available'}`,
    )
    if (h) {
      add(`http_${mode}`, h.perSec)
      keep(`http_${mode}`, h)
    }
    if (baseline) {
      const b = await twice('HTTP enqueue (baseline)', () => enqueueHttp(baseline, mode, S.enqueue))
      log(`rep ${rep + 1} baseline enqueue ${mode} HTTP: ${b ? `${Math.round(b.perSec)}/s${cpu(b)}` : 'n/a'}`)
      if (b) {
        add(`baseline_http_${mode}`, b.perSec)
        keep(`baseline_http_${mode}`, b)
      }
    }
  }
  if (run('enqueue'))
    peers.push(await twice('peers enqueue', () => runPeers({ ...peerEnv, PHASES: 'enqueue' })))
  if (!run('process')) continue
  for (const c of S.concurrencies) {
    const r = await twice('process', () => processDrain(bin, S.processN, c, 1))
    log(
      `rep ${rep + 1} tasklab process c=${c}: ${Math.round(r.perSec)}/s (startup ${Math.round(r.startupMs)} ms)`,
    )
    add(`process_c${c}`, r.perSec)
    keep(`process_c${c}`, r)
    if (baseline) {
      const b = await twice('process (baseline)', () => processDrain(baseline, S.processN, c, 1))
      log(`rep ${rep + 1} baseline process c=${c}: ${Math.round(b.perSec)}/s`)
      add(`baseline_c${c}`, b.perSec)
      keep(`baseline_c${c}`, b)
    }
  }
  const m = await twice('process', () =>
    processDrain(bin, S.processN, S.multi.concurrency, S.multi.processes),
  )
  log(
    `rep ${rep + 1} tasklab process ${S.multi.processes}×c=${S.multi.concurrency}: ${Math.round(m.perSec)}/s`,
  )
  add('process_multi', m.perSec)
  keep('process_multi', m)
  peers.push(await twice('peers process', () => runPeers({ ...peerEnv, PHASES: 'process', RAW_BASELINE: 0 })))
}

for (let rep = 0; rep < (run('latency') ? S.latencyRepeats : 0); rep++) {
  const r = await twice('latency', () => latency(S.latency))
  log(
    `rep ${rep + 1} tasklab latency p50 ${r.p50.toFixed(2)} p95 ${r.p95.toFixed(2)} p99 ${r.p99.toFixed(2)} ms`,
  )
  for (const p of ['p50', 'p95', 'p99'] as const) add(`latency_${p}`, r[p])
  keep('latency', r)
}
if (run('latency'))
  peers.push(await twice('peers latency', () => runPeers({ ...peerEnv, PHASES: 'latency' })))

if (run('memory')) {
  const mem = await twice('memory', () => memory(bin, S.memoryN, S.idleMs))
  log(
    `tasklab memory: idle ${mem.idleRssMb.toFixed(1)} MB (peak ${mem.idlePeakMb.toFixed(1)}), draining peak ${mem.drainPeakMb.toFixed(1)} MB`,
  )
  add('rss_idle', mem.idleRssMb)
  add('rss_idle_peak', mem.idlePeakMb)
  add('rss_drain_peak', mem.drainPeakMb)
}

// The crash tests are mostly idle waits: tasklab's runs beside the peers' (as their three do).
let resc: Awaited<ReturnType<typeof rescue>> | undefined
if (run('rescue')) {
  const [r, crashPeers] = await Promise.all([
    twice('rescue', () => rescue(bin, S.leaseSecs, S.crashTimeoutS)),
    twice('peers crash', () => runPeers({ ...peerEnv, PHASES: 'crash' })),
  ])
  resc = r
  peers.push(crashPeers)
  log(
    `tasklab rescue: ${r.recovered ? `${(r.recoverMs! / 1000).toFixed(2)} s` : 'not recovered'} (lease ${S.leaseSecs} s)`,
  )
  if (r.recoverMs !== null) add('rescue', r.recoverMs / 1000)
  keep('rescue', r)
}

if (run('paused')) {
  const p = await twice('paused claim', () => pausedClaim(S.pausedN))
  log(`tasklab claim of 10 beside ${S.pausedN} due tasks of a paused type: ${p.claimMs.toFixed(2)} ms`)
  add('paused_claim', p.claimMs)
  keep('paused_claim', p)
}

const soakLines: string[] = []
// With --baseline the baseline binary's soak runs first, then this one's: the same run, back to back.
for (const [who, soakBin] of run('soak') && S.soak.n > 0
  ? ([...(baseline ? [['baseline', baseline]] : []), ['tasklab', bin]] as const)
  : []) {
  const r = await soak(soakBin, S.soak.n, S.soak.concurrency, (s) => log(`${who} ${s}`))
  log(
    `${who} soak ${r.n}: ${Math.round(r.perSec)}/s overall, ${Math.round(r.startPerSec)}/s first tenth, ${Math.round(r.endPerSec)}/s last tenth (${(r.endPerSec / r.startPerSec).toFixed(2)}×); tenths ${r.tenths.map(Math.round).join(' ')}; CPU per task ${Math.round(r.cpuUsStart)} → ${Math.round(r.cpuUsEnd)} µs (load ${r.loadStart.toFixed(1)} → ${r.loadEnd.toFixed(1)}); claim ${r.claimMsStart.toFixed(2)} → ${r.claimMsEnd.toFixed(2)} ms; ${r.vacuums} VACUUMs of tasks, one running at ${Math.round(r.vacuumBusy * 100)} % of polls; ${r.deadAtEnd} dead at the end`,
  )
  const k = who === 'tasklab' ? 'soak' : 'baseline_soak'
  add(`${k}_start`, r.startPerSec)
  add(`${k}_end`, r.endPerSec)
  add(`${k}_ratio`, r.endPerSec / r.startPerSec)
  add(`${k}_cpu_start`, r.cpuUsStart)
  add(`${k}_cpu_end`, r.cpuUsEnd)
  add(`${k}_claim_start`, r.claimMsStart)
  add(`${k}_claim_end`, r.claimMsEnd)
  keep(k, r)
  const end = new Map(r.sizesEnd.map((x) => [x.name, x.bytes]))
  soakLines.push(
    `${who} soak sizes at 5 % → end: ${r.sizesStart.map((x) => `${x.name} ${mb(x.bytes)} → ${mb(end.get(x.name) ?? Number.NaN)}`).join('; ')}; ${r.vacuums} VACUUMs of tasks (a VACUUM running at ${Math.round(r.vacuumBusy * 100)} % of the 500 ms polls), ${r.deadAtEnd} dead tuples at the end`,
  )
}

// ------------------------------------------------------------------ table
const num = (xs: unknown[]) => xs.filter((x): x is number => typeof x === 'number')
const peerCell = (
  metric: string,
  lib: string,
  kind: string,
  pick?: (s: Record<string, number>) => number,
): Cell => {
  const raw = peerSamples(peers, metric, lib, kind)
  return { samples: pick ? raw.map((s) => pick(s as Record<string, number>)) : num(raw) }
}
const crashCell = (lib: string, kind: string): Cell => {
  const raw = peerSamples(peers, 'crash', lib, kind) as {
    recovered: boolean
    recoverMs: number
    waitedMs: number
  }[]
  const ok = raw.filter((r) => r.recovered)
  if (ok.length === raw.length) return { samples: ok.map((r) => r.recoverMs / 1000) }
  return { samples: [Number.POSITIVE_INFINITY], text: `not within ${Math.round(raw[0]!.waitedMs / 1000)} s` }
}
const tl = (key: string): Cell => ({ samples: T[key] ?? [] })
const rows: Row[] = [
  {
    id: 'enqueue_single',
    label: `enqueue in-process, 1 per call, ${S.enqueue.inflight} in flight`,
    unit: 'tasks/s',
    better: 'higher',
    tasklab: tl('enqueue_single'),
    gw: peerCell('enqueue_single', 'gw', 'rec'),
    pgboss: peerCell('enqueue_single', 'pgboss', 'rec'),
  },
  {
    id: 'enqueue_batch',
    label: `enqueue in-process, ${S.enqueue.batch} per call`,
    unit: 'tasks/s',
    better: 'higher',
    tasklab: tl('enqueue_batch'),
    gw: peerCell('enqueue_batch', 'gw', 'rec'),
    pgboss: peerCell('enqueue_batch', 'pgboss', 'rec'),
  },
  {
    id: 'http_single',
    label: `enqueue HTTP POST /tasks, ${S.enqueue.httpClients} clients`,
    unit: 'tasks/s',
    better: 'higher',
    target: '≥ 6,000',
    tasklab: tl('http_single'),
  },
  {
    id: 'baseline_http_single',
    label: `enqueue HTTP POST /tasks, ${S.enqueue.httpClients} clients, baseline binary (--baseline)`,
    unit: 'tasks/s',
    better: 'higher',
    tasklab: tl('baseline_http_single'),
  },
  {
    id: 'http_batch',
    label: `enqueue HTTP POST /tasks/batch, ${S.enqueue.batch} per call`,
    unit: 'tasks/s',
    better: 'higher',
    target: '≥ 60,000',
    tasklab: tl('http_batch'),
  },
  {
    id: 'baseline_http_batch',
    label: `enqueue HTTP POST /tasks/batch, ${S.enqueue.batch} per call, baseline binary (--baseline)`,
    unit: 'tasks/s',
    better: 'higher',
    tasklab: tl('baseline_http_batch'),
  },
  ...S.concurrencies.map(
    (c): Row => ({
      id: `process_c${c}`,
      label: `process ${S.processN} no-op, 1 process, concurrency ${c}`,
      unit: 'tasks/s',
      better: 'higher',
      target: '≥ 1.5× gw, ≥ 5× pg-boss',
      tasklab: tl(`process_c${c}`),
      gw: peerCell(`process_c${c}`, 'gw', 'rec'),
      pgboss: peerCell(`process_c${c}`, 'pgboss', 'rec'),
    }),
  ),
  ...S.concurrencies.map(
    (c): Row => ({
      id: `baseline_c${c}`,
      label: `process ${S.processN} no-op, concurrency ${c}, baseline binary (--baseline)`,
      unit: 'tasks/s',
      better: 'higher',
      tasklab: tl(`baseline_c${c}`),
      gw: peerCell(`process_c${c}`, 'gw', 'rec'),
      pgboss: peerCell(`process_c${c}`, 'pgboss', 'rec'),
    }),
  ),
  {
    id: 'process_multi',
    label: `process ${S.processN} no-op, ${S.multi.processes} processes × concurrency ${S.multi.concurrency}`,
    unit: 'tasks/s',
    better: 'higher',
    tasklab: tl('process_multi'),
  },
  ...(['p50', 'p95', 'p99'] as const).map(
    (p): Row => ({
      id: `latency_${p}`,
      label: `latency enqueue→start ${p}, ${S.latency.samples} tasks ${S.latency.gapMs} ms apart`,
      unit: 'ms',
      better: 'lower',
      target: p === 'p50' ? '≤ 2' : p === 'p99' ? '≤ 10' : undefined,
      tasklab: tl(`latency_${p}`),
      gw: peerCell('latency', 'gw', 'rec', (s) => s[p]!),
      pgboss: peerCell('latency', 'pgboss', 'rec', (s) => s[p]!),
    }),
  ),
  {
    id: 'rescue',
    label: `rescue after SIGKILL (tasklab lease ${S.leaseSecs} s; pg-boss heartbeat 10 s)`,
    unit: 's',
    better: 'lower',
    target: `≤ lease + 1 = ${S.leaseSecs + 1}`,
    tasklab: !resc || resc.recovered ? tl('rescue') : { samples: [], text: 'not recovered' },
    gw: crashCell('gw', 'rec'),
    pgboss: crashCell('pgboss', 'crash_hb'),
  },
  {
    id: 'paused_claim',
    label: `claim 10 tasks beside ${S.pausedN} due tasks of a paused type`,
    unit: 'ms',
    better: 'lower',
    target: '< 2',
    tasklab: tl('paused_claim'),
  },
  ...(['soak', 'baseline_soak'] as const).flatMap((k): Row[] => {
    const b = k === 'baseline_soak' ? ', baseline binary (--baseline)' : ''
    return [
      {
        id: `${k}_start`,
        label: `soak ${S.soak.n} no-op at c=${S.soak.concurrency}: throughput over the first tenth${b}`,
        unit: 'tasks/s',
        better: 'higher',
        tasklab: tl(`${k}_start`),
      },
      {
        id: `${k}_end`,
        label: `soak: throughput over the last tenth${b}`,
        unit: 'tasks/s',
        better: 'higher',
        tasklab: tl(`${k}_end`),
      },
      {
        id: `${k}_ratio`,
        label: `soak: last tenth ÷ first tenth${b}`,
        unit: '×',
        better: 'higher',
        target: '≥ 0.9',
        tasklab: tl(`${k}_ratio`),
      },
      {
        id: `${k}_cpu_start`,
        label: `soak: CPU per task (worker + its backends) over the first tenth${b}`,
        unit: 'µs',
        better: 'lower',
        tasklab: tl(`${k}_cpu_start`),
      },
      {
        id: `${k}_cpu_end`,
        label: `soak: CPU per task over the last tenth${b}`,
        unit: 'µs',
        better: 'lower',
        tasklab: tl(`${k}_cpu_end`),
      },
      {
        id: `${k}_claim_start`,
        label: `soak: claim of 10 of another type at 5 % done${b}`,
        unit: 'ms',
        better: 'lower',
        tasklab: tl(`${k}_claim_start`),
      },
      {
        id: `${k}_claim_end`,
        label: `soak: claim of 10 of another type at 95 % done${b}`,
        unit: 'ms',
        better: 'lower',
        tasklab: tl(`${k}_claim_end`),
      },
    ]
  }),
  {
    id: 'rss_idle',
    label: '`tasklab start` RSS idle (settled)',
    unit: 'MB',
    better: 'lower',
    target: '≤ 80',
    tasklab: tl('rss_idle'),
  },
  {
    id: 'rss_idle_peak',
    label: '`tasklab start` peak RSS through start-up and idle',
    unit: 'MB',
    better: 'lower',
    tasklab: tl('rss_idle_peak'),
  },
  {
    id: 'rss_drain_peak',
    label: `\`tasklab start\` peak RSS draining ${S.memoryN} tasks (c=10)`,
    unit: 'MB',
    better: 'lower',
    tasklab: tl('rss_drain_peak'),
  },
]

// ------------------------------------------------------------------ machine, versions, settings
const admin = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} })
const [pg] =
  await admin`SELECT version() AS v, current_setting('shared_buffers') AS sb, current_setting('synchronous_commit') AS sc,
  current_setting('fsync') AS fsync, current_setting('max_connections') AS mc`
await admin.end()
const pkg = (name: string) =>
  JSON.parse(readFileSync(resolve(import.meta.dir, `../node_modules/${name}/package.json`), 'utf8'))
    .version as string
const nodeVersion = (await new Response(Bun.spawn(['node', '--version']).stdout).text()).trim()
const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memGb: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  loadavgAtEnd: loadavg(),
}
const versions = {
  tasklab: VERSION,
  bun: Bun.version,
  node: nodeVersion,
  postgresJs: pkg('postgres'),
  'graphile-worker': pkg('graphile-worker'),
  'pg-boss': pkg('pg-boss'),
  pg: pkg('pg'),
  postgresql: pg!.v,
}
const pgSettings = {
  shared_buffers: pg!.sb,
  synchronous_commit: pg!.sc,
  fsync: pg!.fsync,
  max_connections: pg!.mc,
}
const finished = new Date()

const settings = [
  `tasklab: the binary (${bin}) for HTTP, processing, rescue and memory; env ${Object.entries(QUIET)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}, pool 10, LISTEN/NOTIFY (debounced), poll 5 s; no-op = delay_task {delay_seconds: 0}`,
  'tasklab processing: rate = N / (first claim started_at → last completed_at), from the tasks table',
  'tasklab latency: the engine Worker (concurrency 10) in its own bun process, a handler that subtracts the payload timestamp (performance.timeOrigin + now()); the producer enqueues and pokes the debounced notifier',
  `tasklab rescue: lease ${S.leaseSecs} s (STARTER__WORKER__LEASE_SECS), task retry strategy fixed 0 ms; A gets SIGKILL 2 s after the task started, B starts at once`,
  ...[
    ['process_c10', 'gw', 'rec'],
    ['process_c10', 'pgboss', 'rec'],
    ['enqueue_single', 'gw', 'rec'],
    ['enqueue_single', 'pgboss', 'rec'],
    ['crash', 'pgboss', 'crash_hb'],
  ].map(
    ([m, l, k]) =>
      `${l === 'gw' ? 'graphile-worker' : 'pg-boss'} ${m}: ${peerSettings(peers, m!, l!, k!) ?? 'n/a'}`,
  ),
  ...(baseline ? [`baseline binary: ${baseline}`] : []),
  ...soakLines,
]

const title = `tasklab bench ${started.toISOString()} (${quick ? 'quick' : 'full'}, ${S.repeats} repeat(s), latency ${S.latencyRepeats} pass(es)); ${machine.cpus} × ${machine.cpu}, ${machine.memGb} GB; PostgreSQL ${String(pg!.v).split(' ')[1]} (${Object.entries(
  pgSettings,
)
  .map(([k, v]) => `${k}=${v}`)
  .join(
    ', ',
  )}); bun ${versions.bun}, node ${versions.node}, graphile-worker ${versions['graphile-worker']}, pg-boss ${versions['pg-boss']}`
// With --only, rows of phases that did not run are left out.
const table = renderTable(
  rows.filter((r) => [r.tasklab, r.gw, r.pgboss].some((c) => c && (c.samples.length > 0 || c.text))),
)
process.stdout.write(
  `${title}\nCells: median (min–max) over the samples; ratios are ratios of medians.\n\n${table}\n\nSettings:\n${settings.map((s) => `- ${s}`).join('\n')}\n\nwall time ${Math.round((finished.getTime() - started.getTime()) / 1000)} s\n`,
)

const json = flag('--json')
if (json)
  writeFileSync(
    json,
    JSON.stringify(
      {
        startedAt: started,
        finishedAt: finished,
        quick,
        machine,
        versions,
        pgSettings,
        settings: S,
        notes: settings,
        rows,
        details,
        peers,
      },
      null,
      2,
    ),
  )
