// bun bench/tasklab/embedded.ts [--runs N] [--pairs N] [--tasks N] [--system-url URL]
// The embedded PostgreSQL as a user meets it, with the compiled binary and no database URL:
// first start (extract the server, initdb, migrate), later start, idle memory of tasklab plus all
// its postgres processes, the binary's size, and no-op task processing on the embedded server
// against the machine's own PostgreSQL (same worker, same settings). Prints numbers; asserts none.
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { openEmbedded, tcpUrl } from '../../src/db/embedded'
import { readPostmasterPid } from '../../src/db/pg-process'
import { silentLogger } from '../../src/log'
import { binaryPath } from '../lib/proc'
import { median } from '../lib/stats'

const argv = process.argv.slice(2)
const flag = (name: string, fallback: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback
}
const RUNS = Number(flag('--runs', '3'))
const TASKS = Number(flag('--tasks', '5000'))
/** Drain pairs (embedded, then system, back to back): the median of their ratios cancels the load drift. */
const PAIRS = Number(flag('--pairs', '6'))
const SYSTEM_URL = flag('--system-url', 'postgres://postgres@127.0.0.1:5432/postgres')

if (argv[0] === '--drain') {
  // Child mode: TEST_DATABASE_URL names the server (bench/lib/db.ts clones its databases there).
  const { processDrain } = await import('./process')
  const bin = argv[1]!
  const r = await processDrain(bin, TASKS, 10, 1)
  process.stdout.write(`${JSON.stringify(r)}\n`)
  process.exit(0)
}

const log = (msg: string) => process.stderr.write(`${msg}\n`)

/** Memory of a process tree: tasklab and every postgres process of its server. */
function memoryOf(pids: number[]): { rssMb: number; pssMb: number } {
  let rss = 0
  let pss = 0
  for (const pid of pids) {
    try {
      rss += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
      pss += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0)
    } catch {
      // Gone meanwhile (a backend that closed): it no longer counts.
    }
  }
  return { rssMb: rss / 1024, pssMb: pss / 1024 }
}

/** The postmaster and its children (checkpointer, walwriter, backends, …). */
function postgresPids(postmaster: number): number[] {
  const out = [postmaster]
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === postmaster) out.push(Number(name))
    } catch {}
  }
  return out
}

async function startBinary(bin: string, home: string): Promise<{ proc: Bun.Subprocess; ms: number }> {
  const began = performance.now()
  const proc = Bun.spawn([bin, 'start', '--port', '0'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, STARTER__LOG__LEVEL: 'warn' },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'ignore',
  })
  const reader = proc.stdout.getReader()
  let text = ''
  while (!text.includes('  chaos: ')) {
    const { done, value } = await reader.read()
    if (done) throw new Error('tasklab start exited before its banner')
    text += new TextDecoder().decode(value)
  }
  const ms = performance.now() - began
  void (async () => {
    while (!(await reader.read()).done) {}
  })()
  return { proc, ms }
}

async function stop(proc: Bun.Subprocess): Promise<void> {
  proc.kill('SIGTERM')
  await proc.exited
}

const bin = await binaryPath()
const work = mkdtempSync('/tmp/tasklab-embench-')
const copy = join(work, 'tasklab')
copyFileSync(bin, copy)
chmodSync(copy, 0o755)
const binaryMb = Bun.file(copy).size / 1024 / 1024

const firsts: number[] = []
const laters: number[] = []
let idle = { rssMb: 0, pssMb: 0, processes: 0 }
try {
  for (let r = 0; r < RUNS; r++) {
    const home = join(work, `home-${r}`)
    const first = await startBinary(copy, home)
    firsts.push(first.ms)
    await stop(first.proc)
    const later = await startBinary(copy, home)
    laters.push(later.ms)
    if (r === 0) {
      await Bun.sleep(3000)
      const pm = readPostmasterPid(join(home, '.local/share/tasklab/pgdata'))!
      const pids = [later.proc.pid, ...postgresPids(pm.pid)]
      idle = { ...memoryOf(pids), processes: pids.length }
    }
    await stop(later.proc)
    log(`run ${r + 1}: first start ${Math.round(first.ms)} ms, later start ${Math.round(later.ms)} ms`)
  }

  // No-op processing: one `tasklab worker --concurrency 10` draining TASKS tasks, on each server.
  const drainOn = async (url: string) => {
    const child = Bun.spawn(
      [process.execPath, resolve(import.meta.path), '--drain', bin, '--tasks', String(TASKS)],
      {
        env: { ...process.env, TEST_DATABASE_URL: url },
        stdout: 'pipe',
        stderr: 'inherit',
      },
    )
    const out = await new Response(child.stdout).text()
    if ((await child.exited) !== 0) throw new Error(`drain on ${url} failed`)
    return JSON.parse(out.trim().split('\n').at(-1)!) as { perSec: number }
  }
  const server = await openEmbedded(join(work, 'drain'), silentLogger)
  const embeddedRates: number[] = []
  const systemRates: number[] = []
  try {
    const url = tcpUrl(Number(new URL(server.url).port), 'postgres')
    for (let r = 0; r < PAIRS; r++) {
      embeddedRates.push((await drainOn(url)).perSec)
      systemRates.push((await drainOn(SYSTEM_URL)).perSec)
      log(
        `drain ${r + 1}: embedded ${Math.round(embeddedRates.at(-1)!)}/s, system ${Math.round(systemRates.at(-1)!)}/s`,
      )
    }
  } finally {
    await server.close()
  }
  const emb = median(embeddedRates)
  const sys = median(systemRates)
  const ratio = median(embeddedRates.map((e, i) => e / systemRates[i]!))
  const version = await Bun.spawn(['psql', SYSTEM_URL, '-Atc', 'SHOW server_version'], { stdout: 'pipe' })
  const sysVersion = (await new Response(version.stdout).text()).trim() || '?'
  console.log(`| measure | value | target |
|---|---:|---:|
| first start (extract + initdb + migrate), median of ${RUNS} | ${(median(firsts) / 1000).toFixed(2)} s | ≤ 5 s |
| later start, median of ${RUNS} | ${(median(laters) / 1000).toFixed(2)} s | ≤ 1.5 s |
| idle memory, tasklab + ${idle.processes - 1} postgres processes: PSS (RSS) | ${idle.pssMb.toFixed(0)} MB (${idle.rssMb.toFixed(0)} MB) | ≤ 150 MB |
| no-op processing, 1 worker × 10, ${TASKS} tasks, median of ${PAIRS}: embedded PostgreSQL 18 | ${Math.round(emb)}/s | |
| same on the machine's PostgreSQL ${sysVersion} | ${Math.round(sys)}/s | |
| ratio embedded / system, median of the ${PAIRS} back-to-back pairs | ${ratio.toFixed(2)}× (${embeddedRates.map((e, i) => (e / systemRates[i]!).toFixed(2)).join(', ')}) | ≥ 0.9× |
| binary size | ${binaryMb.toFixed(1)} MiB | ≤ 140 MB |`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
