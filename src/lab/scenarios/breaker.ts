// breaker: every email attempt of this run fails (a fault rule) until the type's breaker opens.
// While it is open, the tasks wait — pending or retrying, none failed, none burned beyond the
// occasional probe. Then the fault is lifted: the breaker half-opens, the probes succeed, it
// closes, and every task completes.
import { account, type Check, type Ctx, drain, newRun, type Report, tagged } from '../scenario'
import { withBreaker } from './breaker-settings'

const TYPE = 'email'
const OPEN_HOLD_MS = 2000

export async function breaker(ctx: Ctx): Promise<Report> {
  const run = newRun('breaker')
  return withBreaker(
    ctx,
    TYPE,
    { failure_threshold: 5, success_threshold: 2, cooldown_ms: 1000 },
    async () => {
      const { id: ruleId } = await ctx.api.createFault({
        task_type: TYPE,
        kind: 'fail',
        match: { chaos_run: run },
        message: 'chaos: email provider down',
        expires_in_secs: 900,
      })
      const lift = () => ctx.api.deleteFault(ruleId).catch(() => {})
      ctx.undo.add(lift)
      let liftedAt = -1
      const seen: string[] = []
      let watching = true
      // Half-open lasts two probes of 250 ms at least: a 50 ms poll cannot miss it.
      const watcher = (async () => {
        while (watching) {
          const state = await ctx.api
            .type(TYPE)
            .then((t) => t.breaker.state)
            .catch(() => null)
          if (state && seen.at(-1) !== state) {
            seen.push(state)
            ctx.log(`  breaker ${TYPE}: ${state}`)
          }
          await Bun.sleep(50)
        }
      })()
      const email = {
        task_type: TYPE,
        payload: { to: 'chaos@example.com', subject: 'chaos', body: 'breaker drill', latency_ms: 250 },
      }
      // Probes against a still-failing type burn an attempt each: leave room for them.
      const retry = {
        max_attempts: 30,
        retry_strategy: { type: 'fixed' as const, interval_ms: 200, max_attempts: 30 },
      }
      const created = await ctx.api.createBatch(
        Array.from({ length: ctx.tasks }, () => tagged(run, { ...email, ...retry })),
      )
      ctx.log(`  created ${created.length} email tasks; every attempt fails until the breaker opens`)
      let failedWhileOpen = 0
      let waitingWhileOpen = 0
      try {
        const deadline = Date.now() + 30_000
        while (!seen.includes('open') && Date.now() < deadline) await Bun.sleep(50)
        if (seen.includes('open')) {
          const holdUntil = Date.now() + OPEN_HOLD_MS
          while (Date.now() < holdUntil) {
            const c = await ctx.api.listTasks({ q: run, status: 'failed', limit: 1 })
            const w = await ctx.api.listTasks({ q: run, status: 'pending,retrying', limit: 1 })
            failedWhileOpen = Math.max(failedWhileOpen, c.total)
            waitingWhileOpen = Math.max(waitingWhileOpen, w.total)
            await Bun.sleep(250)
          }
          ctx.log(
            `  held open ${OPEN_HOLD_MS} ms: ${waitingWhileOpen} tasks waiting, ${failedWhileOpen} failed; lifting the fault`,
          )
        }
      } finally {
        ctx.undo.delete(lift)
        await lift()
        liftedAt = Math.max(0, seen.length - 1)
      }
      const result = await drain(ctx, run, created.length)
      const closeDeadline = Date.now() + 10_000
      while (seen.at(-1) !== 'closed' && Date.now() < closeDeadline) await Bun.sleep(50)
      watching = false
      await watcher
      const opened = seen.indexOf('open')
      const checks: Check[] = [
        { name: 'the breaker opened', ok: opened >= 0, detail: seen.join(' → ') },
        {
          name: 'while open, tasks waited and none failed',
          ok: opened >= 0 && failedWhileOpen === 0 && waitingWhileOpen > 0,
          detail: `${waitingWhileOpen} waiting, ${failedWhileOpen} failed`,
        },
        {
          name: 'after the fault was lifted it half-opened, then closed',
          ok: liftedAt >= 0 && seen.slice(liftedAt).includes('half_open') && seen.at(-1) === 'closed',
          detail: seen.join(' → '),
        },
      ]
      return account(
        ctx,
        'breaker',
        run,
        created.map((t) => t.id),
        result,
        { failed: 0 },
        { checks, notes: [`breaker ${seen.join(' → ')}`] },
      )
    },
  )
}
