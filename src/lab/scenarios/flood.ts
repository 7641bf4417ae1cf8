// flood: N tasks, one POST each, 16 in flight — as fast as the API takes them. All complete.
import { account, type Ctx, delayTask, drain, newRun, pool, type Report, tagged } from '../scenario'

export async function flood(ctx: Ctx): Promise<Report> {
  const run = newRun('flood')
  const started = performance.now()
  const tasks = Array.from({ length: ctx.tasks }, () => tagged(run, delayTask(0, 0.02)))
  const created = await pool(tasks, 16, (t) => ctx.api.createTask(t))
  const createMs = performance.now() - started
  const rate = Math.round(ctx.tasks / (createMs / 1000))
  ctx.log(
    `  created ${created.length} tasks in ${Math.round(createMs)} ms (${rate}/s, single POSTs, 16 in flight)`,
  )
  const result = await drain(ctx, run, created.length)
  return account(
    ctx,
    'flood',
    run,
    created.map((t) => t.id),
    result,
    { failed: 0 },
    { notes: [`create rate ${rate} tasks/s`] },
  )
}
