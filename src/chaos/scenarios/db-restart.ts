// db-restart: mid-run, every connection to tasklab's database is cut and new ones are refused for a
// few seconds (longer than the lease), then allowed again — a database restart as tasklab sees it,
// without stopping a PostgreSQL server that other databases share. The server's /health/ready must
// answer 503 during the outage and 200 after it, without a restart of any tasklab process, and
// every task must complete.
import postgres from 'postgres'
import { WORKER_LOST } from '../../queue/rescue'
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
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  const ident = `"${name.replaceAll('"', '""')}"`
  let outageDone = false
  let unfinishedAtCut = 0
  let saw503 = false
  let back200 = false
  let recoveryMs = 0
  let readyAt = Number.POSITIVE_INFINITY
  const outage = async () => {
    await Bun.sleep(100)
    unfinishedAtCut = await counts(ctx.api, run).then((c) => c.unfinished)
    ctx.log(`  cutting every connection to ${name} and refusing new ones for ${OUTAGE_MS / 1000} s`)
    const cutAt = performance.now()
    const allow = () => admin.unsafe(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS true`)
    ctx.undo.add(allow)
    try {
      await admin.unsafe(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS false`)
      await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`
      const until = performance.now() + OUTAGE_MS
      while (performance.now() < until) {
        if (!saw503 && (await ctx.api.ready()) === 503) {
          saw503 = true
          ctx.log(`  /health/ready answers 503 (${Math.round(performance.now() - cutAt)} ms after the cut)`)
        }
        await Bun.sleep(100)
      }
    } finally {
      ctx.undo.delete(allow)
      await allow()
    }
    const allowedAt = performance.now()
    const deadline = allowedAt + 30_000
    while (performance.now() < deadline) {
      if ((await ctx.api.ready()) === 200) {
        back200 = true
        readyAt = performance.now()
        recoveryMs = Math.round(readyAt - allowedAt)
        ctx.log(`  connections allowed again; /health/ready is 200 after ${recoveryMs} ms`)
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
          `outage ${OUTAGE_MS} ms, ready again ${recoveryMs} ms after`,
          apiAfterReady(result.apiErrors, readyAt),
        ],
      },
    )
  } finally {
    await admin.unsafe(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS true`).catch(() => {})
    await admin.end()
  }
}

/** The API may answer /health/ready before every pooled connection works again: say how long it erred. */
function apiAfterReady(errors: number[], readyAt: number): string {
  const late = errors.filter((t) => t > readyAt)
  if (late.length === 0) return 'no API errors after ready'
  return `${late.length} failed polls after ready, the last ${((late.at(-1)! - readyAt) / 1000).toFixed(1)} s after`
}
