// `tasklab chaos <scenario>`: run scripted chaos against a running instance (--url, --token) or a
// cluster it spawns itself (--spawn), print progress on stderr and the report on stdout, and exit 1
// when an invariant broke.
import { type Config, ConfigError, type Flags } from '../config'
import { EMBEDDED_DATABASE, embeddedPaths, findEmbedded, tcpUrl } from '../db/embedded'
import { runningServer } from '../db/pg-process'
import { ApiClient } from './client'
import { Cluster, withDatabase } from './cluster'
import { type RunReport, summarize, table } from './report'
import { type Ctx, emptyReport, type Report, type Scenario } from './scenario'
import { bloat } from './scenarios/bloat'
import { breaker } from './scenarios/breaker'
import { dbRestart } from './scenarios/db-restart'
import { flood } from './scenarios/flood'
import { hang } from './scenarios/hang'
import { poison } from './scenarios/poison'
import { workerKill } from './scenarios/worker-kill'

export const SCENARIOS: Record<string, Scenario> = {
  flood,
  'worker-kill': workerKill,
  'db-restart': dbRestart,
  poison,
  breaker,
  hang,
  bloat,
}

/** Not part of `all`: it holds the horizon back and vacuums the whole queue, a lab to run on its own. */
const ON_ITS_OWN = new Set(['bloat'])

export const SCENARIO_NAMES = [...Object.keys(SCENARIOS), 'all']

function count(flags: Flags, name: string, fallback: number, min: number, max: number): number {
  const raw = flags[name]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (typeof raw !== 'string' || !Number.isFinite(n) || n < min || n > max)
    throw new ConfigError(`The flag --${name} must be a number from ${min} to ${max}; got "${String(raw)}".`)
  return n
}

export async function runChaos(
  positional: string[],
  flags: Flags,
  config: Config,
  env: Record<string, string | undefined>,
): Promise<number> {
  const name = positional[0]
  if (!name || !SCENARIO_NAMES.includes(name))
    throw new ConfigError(
      `tasklab chaos needs a scenario: one of ${SCENARIO_NAMES.join(', ')}; see tasklab chaos --help.`,
    )
  if (positional.length > 1)
    throw new ConfigError(`Unexpected argument "${positional[1]}"; see tasklab chaos --help.`)
  const spawn = flags.spawn === true || flags.spawn === 'true'
  const tasks = Math.round(count(flags, 'tasks', 100, 1, 100_000))
  const workers = Math.round(count(flags, 'workers', 3, 1, 32))
  const concurrency = Math.round(count(flags, 'concurrency', 8, 1, 200))
  const leaseSecs = count(flags, 'lease-secs', 2, 1, 3600)
  const url = typeof flags.url === 'string' ? flags.url : undefined
  const token = typeof flags.token === 'string' ? flags.token : undefined
  if (!spawn && !url)
    throw new ConfigError(
      'tasklab chaos needs --url of a running tasklab (with --token of an admin), or --spawn to start its own.',
    )
  if (!spawn && !token)
    throw new ConfigError(
      'tasklab chaos --url needs --token: an admin session token (POST /api/v1/auth/login).',
    )
  const log = (line: string) => process.stderr.write(`${line}\n`)

  let cluster: Cluster | null = null
  const undo = new Set<() => Promise<unknown>>()
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    // Interrupted mid-scenario: lift its fault rules, restore breakers, allow connections again.
    for (const fn of undo) await fn().catch((err) => log(`cleanup failed: ${err.message}`))
    await cluster?.stop().catch((err) => log(`stopping the cluster failed: ${err.message}`))
  }
  const onSignal = () => {
    log('interrupted: stopping the cluster')
    void stop().then(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    let api: ApiClient
    let database: Ctx['database'] = null
    if (spawn) {
      log(`starting a server and ${workers} workers (concurrency ${concurrency}, lease ${leaseSecs} s)`)
      cluster = await Cluster.start({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        workers,
        concurrency,
        leaseSecs,
        log,
        env,
      })
      api = cluster.api
      database = cluster.database
    } else {
      api = new ApiClient(url!, token)
      const me = await api.me()
      if (me.role !== 'admin')
        throw new ConfigError(
          `The token belongs to ${me.username}, who is not an admin; the chaos routes are admin only.`,
        )
      if (config.databaseUrl) {
        const u = new URL(config.databaseUrl)
        database = {
          name: decodeURIComponent(u.pathname.slice(1)),
          adminUrl: withDatabase(config.databaseUrl, 'postgres'),
        }
      } else if (runningServer(embeddedPaths(config.dataDir).pgdata)) {
        // The instance runs on the embedded PostgreSQL of this data dir: db-restart restarts it.
        const server = findEmbedded(config.dataDir, 'tasklab chaos')
        database = {
          name: EMBEDDED_DATABASE,
          adminUrl: tcpUrl(server.port, 'postgres'),
          embeddedDir: server.dataDir,
        }
      }
    }
    await api.faults().catch((err) => {
      throw new ConfigError(`The chaos routes do not answer (${err.message}); start tasklab with --chaos.`)
    })
    const ctx: Ctx = { api, cluster, database, tasks, workers, log, undo }
    const names = name === 'all' ? Object.keys(SCENARIOS).filter((n) => !ON_ITS_OWN.has(n)) : [name]
    const reports: Report[] = []
    for (const n of names) {
      log(`▶ ${n}: ${tasks} tasks`)
      const report = await SCENARIOS[n]!(ctx).catch((err: Error) =>
        emptyReport(n, 'fail', [{ name: 'the scenario ran to its end', ok: false, detail: err.message }]),
      )
      log(`  ${n}: ${report.verdict.toUpperCase()}`)
      reports.push(report)
    }
    const run: RunReport = summarize(reports, {
      mode: spawn ? 'spawn' : 'url',
      url: api.base,
      tasks_per_scenario: tasks,
      workers,
    })
    process.stdout.write(flags.json ? `${JSON.stringify(run, null, 2)}\n` : `${table(run)}\n`)
    return run.verdict === 'pass' ? 0 : 1
  } finally {
    await stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
