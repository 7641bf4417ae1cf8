// CI's one run of the benchmark (`bun run bench --quick`): it must finish and measure every metric
// for tasklab and the peers. A slow test: `npm run test:slow` runs it (test/helpers/slow.ts). Speed is never asserted: this box's numbers are too noisy to gate on.
import { expect } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { TASKLAB_BIN } from '../helpers/binary'
import { slowTest } from '../helpers/slow'

interface Cell {
  samples: number[]
  text?: string
}

slowTest(
  'bun run bench --quick measures every metric for tasklab and both peers',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasklab-bench-test-'))
    const out = join(dir, 'quick.json')
    try {
      const bench = Bun.spawn(['bun', resolve('bench/run.ts'), '--quick', '--json', out], {
        env: { ...process.env, TASKLAB_BIN },
        stdout: 'pipe',
        stderr: 'pipe',
      })
      const [code, stdout, stderr] = await Promise.all([
        bench.exited,
        new Response(bench.stdout).text(),
        new Response(bench.stderr).text(),
      ])
      if (code !== 0) throw new Error(`bench exited with ${code}:\n${stderr.slice(-3000)}`)
      expect(stdout).toContain('| Metric')
      const run = JSON.parse(readFileSync(out, 'utf8')) as {
        rows: { id: string; tasklab: Cell; gw?: Cell; pgboss?: Cell }[]
      }
      const row = (id: string) => run.rows.find((r) => r.id === id)!
      const measured = (c: Cell | undefined) =>
        !!c && (c.samples.some(Number.isFinite) || c.text !== undefined)
      // The peers' cells may be a text: graphile-worker never re-runs a crashed job within the wait.
      const shared = [
        'enqueue_single',
        'enqueue_batch',
        'process_c10',
        'process_c50',
        'process_c100',
        'latency_p50',
        'rescue',
      ]
      for (const id of shared) {
        expect(measured(row(id).gw)).toBe(true)
        expect(measured(row(id).pgboss)).toBe(true)
      }
      const own = [
        ...shared,
        'http_single',
        'http_batch',
        'process_multi',
        'latency_p99',
        'rss_idle',
        'rss_drain_peak',
        'paused_claim',
        'soak_start',
        'soak_end',
        'soak_ratio',
        'soak_claim_end',
      ]
      for (const id of own) expect(row(id).tasklab.samples.filter(Number.isFinite).length).toBeGreaterThan(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
  240_000,
)
