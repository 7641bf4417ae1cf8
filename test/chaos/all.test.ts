// The CI-scale chaos run: the compiled binary runs every scenario against a cluster it spawns from
// itself (a server and 3 workers, 2 s leases), 300 tasks each, and must account for every task.
// A slow test: `npm run test:slow` runs it (test/helpers/slow.ts).
import { afterAll, beforeAll, expect } from 'bun:test'
import type { RunReport } from '../../src/lab/report'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { cleanEnv, compiledBinary, tail } from '../helpers/proc'
import { SLOW_TESTS, slowTest } from '../helpers/slow'

const TASKS = 300

let db: TestDatabase | undefined
beforeAll(async () => {
  if (SLOW_TESTS) db = await createTestDatabase({ max: 1 })
})
afterAll(async () => {
  await db?.drop()
})

slowTest(
  `tasklab chaos all --spawn --tasks ${TASKS} --workers 3 passes with every task accounted for`,
  async () => {
    const bin = await compiledBinary()
    const proc = Bun.spawn(
      [bin, 'chaos', 'all', '--spawn', '--tasks', String(TASKS), '--workers', '3', '--json'],
      {
        env: cleanEnv({ DATABASE_URL: db!.url }),
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
    const row = (name: string) => report.scenarios.find((s) => s.scenario === name)!
    expect(report.scenarios.map((s) => [s.scenario, s.verdict, s.checks.filter((c) => !c.ok)])).toEqual(
      ['flood', 'worker-kill', 'db-restart', 'poison', 'breaker', 'hang'].map((n) => [n, 'pass', []]),
    )
    for (const s of report.scenarios) {
      expect(s.created).toBe(TASKS)
      expect(s.completed + s.failed + s.cancelled).toBe(TASKS)
      expect(s.unfinished).toBe(0)
      expect(s.duplicates).toBe(0)
    }
    expect(row('poison').failed).toBe(TASKS / 10)
    expect(row('worker-kill').notes.join()).toMatch(/through the API/)
    expect(report.total_accounted).toBe(6 * TASKS)
    expect(report.verdict).toBe('pass')
    expect(code).toBe(0)
    expect(stderr).toContain('/health/ready answers 503')
  },
  170_000,
)
