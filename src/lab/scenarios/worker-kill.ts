// worker-kill: while tasks run, kill a random worker every 1.5 s and start a replacement. With
// --spawn the kills alternate between a real SIGKILL from outside and POST /chaos/workers/{id}/kill
// (the worker SIGKILLs itself); against a running instance only the API kill exists, no replacement
// can be started, and one worker is always spared. Every task must complete; the attempts the
// killed workers held come back through lease expiry ("worker lost") and are counted.
import { WORKER_LOST } from '../../shared/states'
import {
  account,
  type Check,
  type Ctx,
  delayTask,
  drain,
  failedAttempts,
  newRun,
  RESILIENT,
  type Report,
  tagged,
} from '../scenario'

const KILL_EVERY_MS = 1500

export async function workerKill(ctx: Ctx): Promise<Report> {
  const run = newRun('worker-kill')
  const created = await ctx.api.createBatch(
    Array.from({ length: ctx.tasks }, () => tagged(run, { ...delayTask(0.2, 0.6), ...RESILIENT })),
  )
  ctx.log(`  created ${created.length} tasks of 0.2-0.6 s`)
  let kills = 0
  let apiKills = 0
  let apiKillsDied = 0
  let unkillable = false
  let nextKill = performance.now() + 300
  const notes: string[] = []
  const tick = async () => {
    if (performance.now() < nextKill) return
    nextKill = performance.now() + KILL_EVERY_MS
    if (ctx.cluster) {
      const live = ctx.cluster.live()
      const victim = live[Math.floor(Math.random() * live.length)]
      if (!victim) return
      const viaApi = kills % 2 === 1
      if (viaApi) {
        await ctx.api.killWorker(victim.id)
        apiKills++
        const died = await Promise.race([
          victim.proc.exited.then(() => true),
          Bun.sleep(5000).then(() => false),
        ])
        victim.killed = true
        if (died) apiKillsDied++
        else victim.proc.kill('SIGKILL')
      } else ctx.cluster.sigkill(victim)
      kills++
      const fresh = await ctx.cluster.startWorker()
      ctx.log(
        `  killed ${victim.label} (pid ${victim.pid}) ${viaApi ? 'through the API' : 'with SIGKILL'}; started ${fresh.label}`,
      )
    } else {
      // Remote (HTTP) workers cannot be killed through the API (src/faults/kill.ts says why).
      const live = (await ctx.api.workers()).filter(
        (w) => w.alive !== false && !w.stopped_at && w.kind !== 'remote',
      )
      if (live.length < 2) {
        unkillable = true
        return
      }
      const victim = live[Math.floor(Math.random() * live.length)]!
      await ctx.api.killWorker(victim.id)
      kills++
      apiKills++
      ctx.log(
        `  killed ${victim.id} through the API (${live.length - 1} left; no replacement without --spawn)`,
      )
    }
  }
  const result = await drain(ctx, run, created.length, {
    tick: async () => tick().catch((err) => ctx.log(`  kill failed: ${err.message}`)),
    hold: () => kills === 0 && !unkillable,
  })
  if (!ctx.cluster) notes.push('without --spawn: API kills only, no replacements')
  const checks: Check[] = [
    { name: 'at least one worker was killed mid-run', ok: kills > 0, detail: `${kills} kills` },
  ]
  if (ctx.cluster && apiKills > 0)
    checks.push({
      name: 'POST /chaos/workers/{id}/kill ended the process',
      ok: apiKillsDied === apiKills,
      detail: `${apiKillsDied}/${apiKills}`,
    })
  notes.push(`${kills} kills (${apiKills} through the API)`)
  return account(
    ctx,
    'worker-kill',
    run,
    created.map((t) => t.id),
    result,
    { failed: 0, rescued: (tasks) => failedAttempts(ctx.api, tasks, new RegExp(`^${WORKER_LOST}$`)) },
    { checks, notes },
  )
}
