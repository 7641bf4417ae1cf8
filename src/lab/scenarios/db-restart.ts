// db-restart: mid-run the database goes away for a few seconds (longer than the lease), then comes
// back. On the embedded PostgreSQL the server really restarts: its owner is asked to keep it down
// for the outage and the server is stopped (fast shutdown: every session cut), then started again
// by the owner. On a server given by URL, which other databases may share, only tasklab's database
// goes away: every connection to it is cut and new ones are refused, then allowed again. Either
// way /health/ready must answer 503 during the outage and 200 after it, without a restart of any
// tasklab process, and every task must complete.
import postgres from 'postgres'
import { restartEmbedded } from '../../db/embedded'
import { WORKER_LOST } from '../../shared/states'
import {
  account,
  type Check,
  type Ctx,
  counts,
  delayTask,
  drain,
  failedAttempts,
  newRun,
  RESILIENT,
  type Report,
  skipped,
  tagged,
} from '../scenario'

const OUTAGE_MS = 3000

export async function dbRestart(ctx: Ctx): Promise<Report> {
  if (!ctx.database)
    return skipped(
      'db-restart',
      'needs the database: run with --spawn, or give --database-url of the instance',
    )
  const { name, adminUrl } = ctx.database
  const run = newRun('db-restart')
  const created = await ctx.api.createBatch(
    Array.from({ length: ctx.tasks }, () => tagged(run, { ...delayTask(0.1, 0.3), ...RESILIENT })),
  )
  ctx.log(`  created ${created.length} tasks of 0.1-0.3 s`)
  const admin = ctx.database.embeddedDir ? null : postgres(adminUrl, { max: 1, onnotice: () => {} })
  const ident = `"${name.replaceAll('"', '""')}"`
  let outageDone = false
  let unfinishedAtCut = 0
  let saw503 = false
  let back200 = false
  let recoveryMs = 0
  let readyAt = Number.POSITIVE_INFINITY
  const watch503 = async (cutAt: number, until: () => boolean) => {
    while (!until()) {
      if (!saw503 && (await ctx.api.ready()) === 503) {
        saw503 = true
        ctx.log(`  /health/ready answers 503 (${Math.round(performance.now() - cutAt)} ms after the cut)`)
      }
      await Bun.sleep(100)
    }
  }
  /** The embedded server: stopped for real, started again by the tasklab that owns it. */
  const restartServer = async (dir: string) => {
    ctx.log(`  restarting the embedded PostgreSQL in ${dir}, down for ${OUTAGE_MS / 1000} s`)
    const cutAt = performance.now()
    let back = false
    const watching = watch503(cutAt, () => back)
    try {
      const { stoppedMs, upMs } = await restartEmbedded(dir, OUTAGE_MS)
      ctx.log(`  the server stopped in ${stoppedMs} ms and accepted connections again after ${upMs} ms`)
    } finally {
      back = true
      await watching
    }
  }
  /** A shared server: only this database goes away. */
  const cutConnections = async (sql: postgres.Sql) => {
    ctx.log(`  cutting every connection to ${name} and refusing new ones for ${OUTAGE_MS / 1000} s`)
    const cutAt = performance.now()
    const allow = () => sql.unsafe(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS true`)
    ctx.undo.add(allow)
    try {
      await sql.unsafe(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS false`)
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`
      const until = performance.now() + OUTAGE_MS
      await watch503(cutAt, () => performance.now() >= until)
    } finally {
      ctx.undo.delete(allow)
      await allow()
    }
  }
  const outage = async () => {
    await Bun.sleep(100)
    unfinishedAtCut = await counts(ctx.api, run).then((c) => c.unfinished)
    if (admin) await cutConnections(admin)
    else await restartServer(ctx.database!.embeddedDir!)
    const allowedAt = performance.now()
    const deadline = allowedAt + 30_000
    while (performance.now() < deadline) {
      if ((await ctx.api.ready()) === 200) {
        back200 = true
        readyAt = performance.now()
        recoveryMs = Math.round(readyAt - allowedAt)
        ctx.log(`  the database is back; /health/ready is 200 after ${recoveryMs} ms`)
        break
      }
      await Bun.sleep(100)
    }
    outageDone = true
  }
  const cut = outage().catch((err) => ctx.log(`  outage failed: ${err.message}`))
  try {
    const result = await drain(ctx, run, created.length, {
      timeoutMs: Math.max(120_000, ctx.tasks * 150),
      hold: () => !outageDone,
    })
    await cut
    const checks: Check[] = [
      {
        name: 'the outage hit while tasks were in flight',
        ok: unfinishedAtCut > 0,
        detail: `${unfinishedAtCut} unfinished at the cut`,
      },
      { name: '/health/ready went 503 during the outage', ok: saw503 },
      {
        name: '/health/ready came back to 200 by itself',
        ok: back200,
        detail: back200 ? `${recoveryMs} ms` : 'still not ready after 30 s',
      },
    ]
    return await account(
      ctx,
      'db-restart',
      run,
      created.map((t) => t.id),
      result,
      { failed: 0, rescued: (tasks) => failedAttempts(ctx.api, tasks, new RegExp(`^${WORKER_LOST}$`)) },
      {
        checks,
        notes: [
          `${admin ? 'connections cut' : 'server restarted'}, outage ${OUTAGE_MS} ms, ready again ${recoveryMs} ms after`,
          apiAfterReady(result.apiErrors, readyAt),
        ],
      },
    )
  } finally {
    if (admin) {
      await admin.unsafe(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS true`).catch(() => {})
      await admin.end()
    }
  }
}

/** The API may answer /health/ready before every pooled connection works again: say how long it erred. */
function apiAfterReady(errors: number[], readyAt: number): string {
  const late = errors.filter((t) => t > readyAt)
  if (late.length === 0) return 'no API errors after ready'
  return `${late.length} failed polls after ready, the last ${((late.at(-1)! - readyAt) / 1000).toFixed(1)} s after`
}
