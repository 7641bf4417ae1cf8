// The tasklab binary as users run it: built once per bench run (or TASKLAB_BIN), spawned with
// DATABASE_URL and env settings, its API address read from the banner, its RSS read from /proc.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Subprocess } from 'bun'
import { until } from './stats'

const ROOT = resolve(import.meta.dir, '../..')

export async function binaryPath(): Promise<string> {
  if (process.env.TASKLAB_BIN) return resolve(process.env.TASKLAB_BIN)
  const out = `/tmp/tasklab-bench-${process.pid}/tasklab`
  const build = Bun.spawn(['bun', 'build.ts'], {
    cwd: ROOT,
    env: { ...process.env, TASKLAB_OUTFILE: out },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  if ((await build.exited) !== 0) throw new Error('bench: building the binary failed')
  return out
}

/** Settings every spawned tasklab shares: warn-level logs (an info line per transition costs ~15 %). */
export const QUIET = { STARTER__LOG__LEVEL: 'warn', STARTER__LOG__FORMAT: 'json' }

/** Length of a clock tick of /proc/<pid>/stat's times (USER_HZ 100 on Linux). */
export const TICK_MS = 10

/** utime + stime of a process, in clock ticks, from /proc/<pid>/stat (throws once it is gone). */
export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** Feeds a child's output to `add` as text until it closes. */
export async function drain(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
  const reader = stream.getReader()
  const dec = new TextDecoder()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    add(dec.decode(value, { stream: true }))
  }
}

export class Tasklab {
  readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>
  private out = ''
  private err = ''

  constructor(
    bin: string,
    role: 'start' | 'serve' | 'worker',
    url: string,
    env: Record<string, string> = {},
  ) {
    this.proc = Bun.spawn([bin, role], {
      env: {
        ...process.env,
        ...QUIET,
        DATABASE_URL: url,
        STARTER__SERVER__PORT: '0',
        STARTER__DATA_DIR: `/tmp/tasklab-bench-${process.pid}/data`,
        ...env,
      },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    })
    void drain(this.proc.stdout, (s) => (this.out += s))
    void drain(this.proc.stderr, (s) => (this.err = (this.err + s).slice(-4000)))
  }

  get pid(): number {
    return this.proc.pid
  }

  /** Resolves once the banner is printed (the process is serving and/or working). */
  async ready(timeoutMs = 30_000): Promise<void> {
    await until('the tasklab banner', timeoutMs, 10, () => {
      if (this.proc.exitCode !== null)
        throw new Error(`tasklab exited with ${this.proc.exitCode}: ${this.err}`)
      return /chaos: /.test(this.out) ? true : undefined
    })
  }

  /** The API base, e.g. http://127.0.0.1:41234/api/v1 (from the banner). */
  get api(): string {
    const m = /API: (\S+)/.exec(this.out)
    if (!m) throw new Error('bench: no API address in the banner')
    return m[1]!.replace(/\/$/, '')
  }

  /** Resident memory now and at its peak (VmHWM), in MB. */
  rss(): { rssMb: number; peakMb: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN)
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 }
  }

  /** CPU time used so far (user + system), in ms. */
  cpuMs(): number {
    return cpuTicks(this.pid) * TICK_MS
  }

  kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): void {
    if (this.proc.exitCode === null) this.proc.kill(signal)
  }

  async stop(): Promise<void> {
    this.kill('SIGTERM')
    const t = setTimeout(() => this.kill('SIGKILL'), 10_000)
    await this.proc.exited
    clearTimeout(t)
  }

  get stderr(): string {
    return this.err
  }
}
