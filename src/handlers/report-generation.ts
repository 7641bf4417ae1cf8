import { Type } from '@sinclair/typebox'
import { defineHandler, PermanentError } from './contract'

const DATE = '^\\d{4}-\\d{2}-\\d{2}$'

/** A real report over the tasks table for [start_date, end_date] (inclusive, UTC days). */
export const reportGeneration = defineHandler({
  type: 'report_generation',
  description: 'Report over the tasks table for a date range: counts by status and type, run times',
  schema: Type.Object({
    report_type: Type.String({ minLength: 1, maxLength: 100 }),
    start_date: Type.String({ pattern: DATE }),
    end_date: Type.String({ pattern: DATE }),
  }),
  example: { report_type: 'tasks', start_date: '2026-01-01', end_date: '2026-12-31' },
  async run(p, ctx) {
    const start = new Date(`${p.start_date}T00:00:00Z`)
    const end = new Date(`${p.end_date}T00:00:00Z`)
    if (Number.isNaN(start.getTime()))
      throw new PermanentError('Invalid payload: payload.start_date: not a real date')
    if (Number.isNaN(end.getTime()))
      throw new PermanentError('Invalid payload: payload.end_date: not a real date')
    if (end < start)
      throw new PermanentError('Invalid payload: payload.end_date: must not be before start_date')
    const until = new Date(end.getTime() + 86_400_000)
    // A plain user's report covers their own tasks, as GET /tasks/stats does; an admin's (and a
    // task created by no account) covers every task.
    const [creator] = ctx.createdBy
      ? await ctx.sql<{ role: string }[]>`SELECT role FROM users WHERE id = ${ctx.createdBy}`
      : [{ role: 'admin' }]
    if (!creator) throw new PermanentError('The account that created this report no longer exists')
    const owner = creator.role === 'admin' ? null : ctx.createdBy
    const rows = await ctx.sql<
      { task_type: string; status: string; n: number; avg_ms: number | null; p95_ms: number | null }[]
    >`
      SELECT task_type, status::text, count(*)::int AS n,
        round(avg(extract(epoch FROM completed_at - started_at) * 1000))::float8 AS avg_ms,
        round((percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at) * 1000))::numeric)::float8 AS p95_ms
      FROM tasks WHERE created_at >= ${start} AND created_at < ${until}
        ${owner ? ctx.sql`AND created_by = ${owner}` : ctx.sql``}
      GROUP BY task_type, status ORDER BY task_type, status`
    const byStatus: Record<string, number> = {}
    const byType: Record<string, Record<string, number>> = {}
    for (const r of rows) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n
      byType[r.task_type] ??= {}
      byType[r.task_type]![r.status] = r.n
    }
    const runTimes = rows
      .filter((r) => r.status === 'completed')
      .map((r) => ({ task_type: r.task_type, avg_ms: r.avg_ms, p95_ms: r.p95_ms }))
    return {
      report_type: p.report_type,
      scope: owner ? 'own tasks' : 'all tasks',
      range: { start_date: p.start_date, end_date: p.end_date },
      total: rows.reduce((a, r) => a + r.n, 0),
      by_status: byStatus,
      by_type: byType,
      run_times: runTimes,
      generated_at: new Date().toISOString(),
    }
  },
})
