// The bloat lab at CI scale: the compiled binary spawns its cluster, holds a transaction open
// through a 300-task flood, and must name that session through GET /storage, show the dead rows
// it kept from VACUUM, reclaim them once it ends, and lose nothing. Its figures are printed.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { RunReport } from '../../src/lab/report'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { cleanEnv, compiledBinary, tail } from '../helpers/proc'

const TASKS = 300

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase({ max: 1 })
})
afterAll(async () => {
  await db.drop()
})

test(`tasklab chaos bloat --spawn --tasks ${TASKS} passes and reports dead rows and claim cost before, during and after`, async () => {
  const bin = await compiledBinary()
  const proc = Bun.spawn(
    [bin, 'chaos', 'bloat', '--spawn', '--tasks', String(TASKS), '--workers', '2', '--json'],
    {
      env: cleanEnv({ DATABASE_URL: db.url }),
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    },
  )
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) console.error(tail(stderr, 80))
  const report = JSON.parse(stdout) as RunReport
  const [bloat] = report.scenarios
  expect(report.scenarios.map((s) => s.scenario)).toEqual(['bloat'])
  expect(bloat!.checks.filter((c) => !c.ok)).toEqual([])
  expect(bloat!.checks.map((c) => c.name)).toContain(
    'GET /storage named the long transaction (pid and application)',
  )
  expect(bloat).toMatchObject({ created: TASKS, completed: TASKS, failed: 0, unfinished: 0, duplicates: 0 })
  const notes = bloat!.notes.join('\n')
  const dead = /dead rows \(tasks\) before\/during\/after: (\d+)\/(\d+)\/(\d+)/.exec(notes)
  expect(dead).not.toBeNull()
  const [, before, during, after] = dead!.map(Number)
  expect(during!).toBeGreaterThan(before!)
  expect(after!).toBeLessThan(during!)
  expect(notes).toMatch(/idle claim ms before\/waves\/after: [\d.]+\/[\d. →]+\/[\d.]+/)
  expect(notes).toMatch(/horizon held by pid \d+ \(tasklab-chaos-bloat, /)
  expect(stderr).toContain('GET /storage: oldest transaction pid')
  expect(stderr).toContain('(tasklab-chaos-bloat,')
  // The history's table was vacuumed with tasks (task_events is a view: VACUUM would skip it).
  const [log] = await db.sql<{ last_vacuum: Date | null }[]>`
    SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'task_event_log'`
  expect(log?.last_vacuum).not.toBeNull()
  expect(notes).toContain('dead rows (tasks + task_event_log) before/during/after')
  console.log(notes)
  expect(code).toBe(0)
}, 120_000)
