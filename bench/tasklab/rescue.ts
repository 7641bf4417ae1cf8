// Rescue after SIGKILL, as the peers' crash test: worker A (`tasklab worker`) starts a 60 s task;
// 2 s later A gets SIGKILL and worker B starts at once. Result = SIGKILL → B's journal line for the
// task's second attempt. The task's retry strategy is fixed 0 ms, so the time is the lease's
// remainder + the next rescue pass (every min(1 s, lease/3)) + the wake-up, not a backoff.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { enqueue } from '../../src/queue/enqueue'
import { Notifier } from '../../src/queue/notify'
import { freshDatabase } from '../lib/db'
import { Tasklab } from '../lib/proc'
import { until } from '../lib/stats'
import { DEFAULTS } from './enqueue'

export interface RescueResult {
  recovered: boolean
  recoverMs: number | null
  leaseMs: number
  sameTask: boolean
  attemptsAtEnd: number
  events: string
}

interface Entry {
  task_id: string
  attempt: number
  worker: string
  at: number
}

export async function rescue(bin: string, leaseSecs: number, timeoutS: number): Promise<RescueResult> {
  const db = await freshDatabase(2, bin)
  const journal = `/tmp/tasklab-bench-${process.pid}/journal-${Date.now()}.jsonl`
  const env = { STARTER__WORKER__LEASE_SECS: String(leaseSecs), STARTER__WORKER__JOURNAL_FILE: journal }
  const read = (): Entry[] =>
    existsSync(journal)
      ? readFileSync(journal, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Entry)
      : []
  const a = new Tasklab(bin, 'worker', db.url, env)
  let b: Tasklab | undefined
  try {
    await a.ready()
    const { task } = await enqueue(
      db.sql,
      {
        task_type: 'delay_task',
        payload: { delay_seconds: 60 },
        retry_strategy: { type: 'fixed', interval_ms: 0, max_attempts: 3 },
      },
      { createdBy: null, defaults: DEFAULTS },
    )
    new Notifier(db.sql).poke()
    await until('the first attempt', 30_000, 10, () => read().find((e) => e.task_id === task.id))
    await Bun.sleep(2000)
    a.kill('SIGKILL')
    const killedAt = Date.now()
    await a.proc.exited
    b = new Tasklab(bin, 'worker', db.url, env)
    const again = await until('the second attempt', timeoutS * 1000, 10, () =>
      read().find((e) => e.attempt === 2),
    ).catch(() => null)
    const [row] = await db.sql`SELECT current_attempt FROM tasks WHERE id = ${task.id}`
    const events =
      await db.sql`SELECT from_status, to_status, actor FROM task_events WHERE task_id = ${task.id} ORDER BY id`
    return {
      recovered: again !== null,
      recoverMs: again ? again.at - killedAt : null,
      leaseMs: leaseSecs * 1000,
      sameTask: again?.task_id === task.id,
      attemptsAtEnd: row!.current_attempt as number,
      events: events.map((e) => `${e.from_status ?? 'new'}→${e.to_status} (${e.actor})`).join(', '),
    }
  } finally {
    a.kill('SIGKILL')
    await b?.stop()
    rmSync(journal, { force: true })
    await db.drop()
  }
}
