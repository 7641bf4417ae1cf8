// graphile-worker and pg-boss, measured by a copy of the shared peers harness (bench/peers), run
// with `node` (both libraries target Node) once per phase so their samples interleave with
// tasklab's. Returns the harness's result rows.
import { readFileSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { TEST_SERVER_URL } from '../../test/helpers/db'

export interface PeerRow {
  metric: string
  lib: 'gw' | 'pgboss' | 'raw'
  kind: string
  concurrency: number | null
  samples: unknown[]
  settings?: string
  label?: string
}

export interface PeerRun {
  versions: Record<string, string>
  config: Record<string, unknown>
  results: PeerRow[]
}

export async function runPeers(env: Record<string, string | number>): Promise<PeerRun> {
  const out = `/tmp/tasklab-bench-${process.pid}/peers-${Date.now()}.json`
  // The peers measure on tasklab's server (the suite's own embedded one when TEST_DATABASE_URL is
  // unset): their harness reads libpq's PG* variables, 127.0.0.1:5432 by default.
  const server = new URL(TEST_SERVER_URL)
  const proc = Bun.spawn(['node', resolve(import.meta.dir, '../peers/bench.mjs')], {
    env: {
      ...process.env,
      PGHOST: server.hostname,
      PGPORT: server.port || '5432',
      PGUSER: decodeURIComponent(server.username) || 'postgres',
      ...(server.password && { PGPASSWORD: decodeURIComponent(server.password) }),
      ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
      OUT_JSON: out,
      // Its own database names: the shared harness, run by others on this server, uses bench_*.
      DB_PREFIX: `tlbench${process.pid}`,
    },
    stdout: 'inherit',
    stderr: 'inherit',
  })
  const code = await proc.exited
  if (code !== 0) throw new Error(`bench: the peers harness exited with ${code}`)
  const run = JSON.parse(readFileSync(out, 'utf8')) as PeerRun
  rmSync(out, { force: true })
  return run
}

/** Samples of one (metric, library, config) across several peer runs. */
export function peerSamples(runs: PeerRun[], metric: string, lib: string, kind: string): unknown[] {
  return runs.flatMap((r) =>
    r.results
      .filter((x) => x.metric === metric && x.lib === lib && x.kind === kind)
      .flatMap((x) => x.samples),
  )
}

export function peerSettings(runs: PeerRun[], metric: string, lib: string, kind: string): string | undefined {
  for (const r of runs) {
    const row = r.results.find((x) => x.metric === metric && x.lib === lib && x.kind === kind)
    if (row) return `${row.label ?? kind}: ${row.settings ?? ''}`
  }
  return undefined
}
