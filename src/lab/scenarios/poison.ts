// poison: a tenth of the tasks carry metadata {poison: true}, and a fault rule fails exactly those
// permanently. Exactly they must land in the dead letter queue, after one attempt, with the rule's
// error; every other task completes.
import type { ApiTask } from '../client'
import {
  account,
  type Check,
  type Ctx,
  delayTask,
  drain,
  newRun,
  RESILIENT,
  type Report,
  tagged,
  withFault,
} from '../scenario'

const ERROR = 'chaos: poison message'

export async function poison(ctx: Ctx): Promise<Report> {
  const run = newRun('poison')
  const share = Math.max(1, Math.round(ctx.tasks * 0.1))
  return withFault(
    ctx,
    {
      task_type: 'delay_task',
      kind: 'fail',
      permanent: true,
      match: { chaos_run: run, poison: true },
      message: ERROR,
      expires_in_secs: 900,
    },
    async () => {
      const poisoned = new Set<number>()
      while (poisoned.size < share) poisoned.add(Math.floor(Math.random() * ctx.tasks))
      const specs = Array.from({ length: ctx.tasks }, (_, i) =>
        tagged(run, { ...delayTask(0.01, 0.05), ...RESILIENT }, poisoned.has(i) ? { poison: true } : {}),
      )
      const created = await ctx.api.createBatch(specs)
      const poisonIds = new Set(created.filter((t) => t.metadata?.poison === true).map((t) => t.id))
      ctx.log(`  created ${created.length} tasks, ${poisonIds.size} of them poison`)
      const result = await drain(ctx, run, created.length)
      const checks = async (tasks: ApiTask[]): Promise<Check[]> => {
        const failed = tasks.filter((t) => t.status === 'failed')
        const wrong = failed.filter((t) => !poisonIds.has(t.id))
        const healthyNotCompleted = tasks.filter((t) => !poisonIds.has(t.id) && t.status !== 'completed')
        const badError = failed.filter((t) => t.last_error !== ERROR || t.current_attempt !== 1)
        const dlq = await deadLetterIds(ctx, poisonIds.size)
        const missing = [...poisonIds].filter((id) => !dlq.has(id))
        return [
          {
            name: 'only poison tasks failed',
            ok: wrong.length === 0,
            detail: wrong.length ? `${wrong.length} healthy tasks failed` : undefined,
          },
          {
            name: 'every healthy task completed',
            ok: healthyNotCompleted.length === 0,
            detail: healthyNotCompleted.length ? `${healthyNotCompleted.length} did not` : undefined,
          },
          {
            name: 'poison failed once, with its error',
            ok: badError.length === 0,
            detail: badError[0]
              ? `e.g. ${badError[0].id}: attempt ${badError[0].current_attempt}, "${badError[0].last_error}"`
              : undefined,
          },
          {
            name: 'every poison task is in GET /tasks/dead-letter',
            ok: missing.length === 0,
            detail: missing.length ? `${missing.length} missing` : undefined,
          },
        ]
      }
      return await account(
        ctx,
        'poison',
        run,
        created.map((t) => t.id),
        result,
        { failed: poisonIds.size, checks },
      )
    },
  )
}

/** Ids in the dead letter queue, newest pages first, up to a bound (the queue may hold others' tasks too). */
async function deadLetterIds(ctx: Ctx, want: number): Promise<Set<string>> {
  const ids = new Set<string>()
  for (let offset = 0; offset < Math.max(10_000, want * 4); offset += 1000) {
    const { tasks, total } = await ctx.api.deadLetter(offset, 1000)
    for (const t of tasks) ids.add(t.id)
    if (tasks.length === 0 || offset + tasks.length >= total) break
  }
  return ids
}
