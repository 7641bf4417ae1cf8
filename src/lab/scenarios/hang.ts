// hang: a quarter of this run's attempts hang (never return) past the task's 400 ms timeout. Each
// hung attempt must time out and retry; every task ends completed, or failed only after using up
// its attempts on timeouts (0.25^12: about one task in 17 million); none is left `running`.
import type { ApiTask } from '../client'
import {
  account,
  type Check,
  type Ctx,
  delayTask,
  drain,
  failedAttempts,
  newRun,
  type Report,
  tagged,
  withFault,
} from '../scenario'
import { withBreaker } from './breaker-settings'

const TIMEOUT_MS = 400
const P = 0.25

export async function hang(ctx: Ctx): Promise<Report> {
  const run = newRun('hang')
  // Timeouts count against delay_task's breaker; with p = 0.25, five in a row happen now and then.
  return withBreaker(ctx, 'delay_task', { cooldown_ms: 500 }, async () => {
    return withFault(
      ctx,
      {
        task_type: 'delay_task',
        kind: 'hang',
        probability: P,
        match: { chaos_run: run },
        expires_in_secs: 900,
      },
      async () => {
        const retry = {
          timeout_ms: TIMEOUT_MS,
          max_attempts: 12,
          retry_strategy: { type: 'fixed' as const, interval_ms: 100, max_attempts: 12 },
        }
        const created = await ctx.api.createBatch(
          Array.from({ length: ctx.tasks }, () => tagged(run, { ...delayTask(0.01, 0.05), ...retry })),
        )
        ctx.log(
          `  created ${created.length} tasks; ${P * 100} % of attempts hang past their ${TIMEOUT_MS} ms timeout`,
        )
        const result = await drain(ctx, run, created.length)
        let timeouts = 0
        const checks = async (tasks: ApiTask[]): Promise<Check[]> => {
          timeouts = await failedAttempts(ctx.api, tasks, /timed out/)
          const badFailures = tasks.filter(
            (t) =>
              t.status === 'failed' &&
              !(t.current_attempt === t.max_attempts && /timed out/.test(t.last_error ?? '')),
          )
          return [
            {
              name: 'hung attempts timed out and were retried',
              ok: timeouts > 0,
              detail: `${timeouts} attempts timed out`,
            },
            {
              name: 'a failure only after every attempt timed out',
              ok: badFailures.length === 0,
              detail: badFailures[0] ? `e.g. ${badFailures[0].id}` : undefined,
            },
          ]
        }
        const report = await account(
          ctx,
          'hang',
          run,
          created.map((t) => t.id),
          result,
          { failed: 0, checks },
        )
        report.notes.push(`${timeouts} attempts timed out`)
        return report
      },
    )
  })
}
