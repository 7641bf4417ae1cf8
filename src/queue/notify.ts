// Wake-ups. PostgreSQL takes a database-wide lock at commit for every transaction that NOTIFYs
// (measured with graphile-worker here: 13-15 of 16 enqueue connections waited on it), so tasklab
// never notifies per task: enqueues poke this notifier, which sends one NOTIFY per burst, after
// the inserts committed. While one NOTIFY is in flight, further pokes coalesce into one more.
// Single enqueues (enqueue()) need no poke: their shared INSERT carries one NOTIFY per statement
// (src/queue/coalesce.ts); the API only wakes its own process's worker (wakeLocal).
import type { Sql, TransactionSql } from '../db/connect'

export const TASKS_CHANNEL = 'tasklab_tasks'
/** Control messages: JSON `{kind: 'cancel', id}`, `{kind: 'types'}`, `{kind: 'kill', worker}`, `{kind: 'faults'}`. */
export const CONTROL_CHANNEL = 'tasklab_control'

export type ControlMessage =
  | { kind: 'cancel'; id: string }
  | { kind: 'types' }
  | { kind: 'kill'; worker: string }
  /** Chaos fault rules changed: workers running with --chaos reload them. */
  | { kind: 'faults' }

/**
 * The one way to send a control message. Inside a transaction (`tx`) it is delivered at commit,
 * with what the transaction changed, and not at all on rollback.
 */
export async function sendControl(sql: Sql | TransactionSql, msg: ControlMessage): Promise<void> {
  await sql`SELECT pg_notify(${CONTROL_CHANNEL}, ${JSON.stringify(msg)})`
}

export class Notifier {
  private inFlight = false
  private again = false
  private readonly local = new Set<() => void>()

  constructor(private readonly sql: Sql) {}

  /** New work is in the queue: wake this process's worker now, and other processes soon. */
  poke(): void {
    this.wakeLocal()
    if (this.inFlight) {
      this.again = true
      return
    }
    this.inFlight = true
    // queueMicrotask lets every enqueue that finished in this turn share the NOTIFY.
    queueMicrotask(() => void this.send())
  }

  /** Wakes this process's worker only: for tasks whose INSERT carried the NOTIFY (enqueue()). */
  wakeLocal(): void {
    for (const fn of this.local) fn()
  }

  /** In-process wake-up, so a worker in the same process does not wait for the NOTIFY round trip. */
  onLocalWake(fn: () => void): () => void {
    this.local.add(fn)
    return () => this.local.delete(fn)
  }

  async control(msg: ControlMessage): Promise<void> {
    await sendControl(this.sql, msg)
  }

  private async send(): Promise<void> {
    try {
      await this.sql`SELECT pg_notify(${TASKS_CHANNEL}, '')`
    } catch {
      // Workers poll as a fallback; a lost wake-up costs latency, never a task.
    } finally {
      this.inFlight = false
      if (this.again) {
        this.again = false
        this.poke()
      }
    }
  }
}
