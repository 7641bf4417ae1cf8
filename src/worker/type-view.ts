// What this worker knows of its task types: which ones it handles, and for each the row of
// task_types as last read (paused, active, timeout, breaker). The claimer asks it what may be
// claimed now; the runner asks it whether a task claimed ahead may still start (the type may have
// been paused, or its breaker opened, while the task waited in the local queue). Breaker changes
// made here are written to the database and announced to the other workers.
import type { Sql } from '../db/connect'
import type { Logger } from '../log'
import { admits, type Breaker, isPristine, probeAt } from '../queue/breaker'
import type { QueueEventBus } from '../queue/events'
import { sendControl } from '../queue/notify'
import { breakerOf, breakerSettingsOf, readTypes, recordBreaker, type TaskTypeRow } from '../queue/registry'

export interface TypeViewOptions {
  sql: Sql
  events: QueueEventBus
  log: Logger
  /** The types this worker has handlers for. */
  handled: readonly string[]
  /** A type was resumed or its breaker closed elsewhere: claim now, not at the next poll. */
  onUnblocked: () => void
}

export class TypeView {
  private rows = new Map<string, TaskTypeRow>()
  /** Types with a breaker probe in flight in this worker: at most one each. */
  private readonly probing = new Set<string>()

  constructor(private readonly o: TypeViewOptions) {}

  get handled(): readonly string[] {
    return this.o.handled
  }

  row(type: string): TaskTypeRow | undefined {
    return this.rows.get(type)
  }

  /** The types to claim in bulk now, and those that may send one probe (breaker half-open). */
  claimable(now: Date): { all: string[]; probes: string[] } {
    const all: string[] = []
    const probes: string[] = []
    for (const name of this.o.handled) {
      const row = this.rows.get(name)
      if (!row || row.paused || !row.is_active) continue
      const a = admits(breakerOf(row), breakerSettingsOf(row), now)
      if (a === 'all') all.push(name)
      else if (a === 'probe' && !this.probing.has(name)) probes.push(name)
    }
    return { all, probes }
  }

  /** May a task of this type, claimed earlier in bulk, start now? */
  mayStart(type: string, now: Date): boolean {
    const row = this.rows.get(type)
    if (!row) return true // no handler row: the attempt fails with "no handler", as before
    return !row.paused && row.is_active && admits(breakerOf(row), breakerSettingsOf(row), now) === 'all'
  }

  /** The earliest moment an open breaker lets a probe through (for the claimer's timer). */
  nextProbeAt(): Date | null {
    let next: Date | null = null
    for (const row of this.rows.values()) {
      const at = probeAt(breakerOf(row), breakerSettingsOf(row))
      if (at && (!next || at < next)) next = at
    }
    return next
  }

  /** A probe task was claimed for `type`: record it (the breaker goes half-open) and hold the slot. */
  async probeClaimed(type: string): Promise<void> {
    this.probing.add(type)
    const changed = await recordBreaker(this.o.sql, type, 'probe')
    if (changed) this.apply(changed.row, changed.before)
  }

  /** An attempt that never reported (lease lost) frees its type's probe. */
  abandoned(type: string): void {
    this.probing.delete(type)
  }

  /**
   * Breaker writes happen only on failures and on the first success after one. Returns the write,
   * or undefined when there is none (the happy path: no promise per attempt).
   */
  attemptWritten(type: string, breaker: 'failure' | 'success' | null): Promise<void> | undefined {
    const wasProbe = this.probing.delete(type)
    const row = this.rows.get(type)
    if (!breaker || !row) return
    if (breaker === 'success' && isPristine(breakerOf(row)) && !wasProbe) return
    return this.writeBreaker(type, breaker)
  }

  private async writeBreaker(type: string, breaker: 'failure' | 'success'): Promise<void> {
    try {
      const changed = await recordBreaker(this.o.sql, type, breaker)
      if (changed) this.apply(changed.row, changed.before)
    } catch (err) {
      this.o.log.warn('breaker update failed', { type, error: err })
    }
  }

  async refresh(): Promise<void> {
    const rows = await readTypes(this.o.sql, this.o.handled)
    const before = this.rows
    this.rows = new Map(rows.map((r) => [r.name, r]))
    const unblocked = rows.some((r) => {
      const old = before.get(r.name)
      return (
        old && ((old.paused && !r.paused) || (old.breaker_state !== 'closed' && r.breaker_state === 'closed'))
      )
    })
    if (unblocked) this.o.onUnblocked()
  }

  private apply(row: TaskTypeRow, before: Breaker['state']): void {
    this.rows.set(row.name, row)
    if (row.breaker_state === before) return
    this.o.events.emit('breaker:changed', {
      taskType: row.name,
      from: before,
      to: row.breaker_state,
      failures: row.breaker_failures,
    })
    this.o.log.warn(`circuit breaker ${row.breaker_state}`, {
      type: row.name,
      from: before,
      failures: row.breaker_failures,
    })
    // Other workers refresh their view of the type at once; a lost message costs them only the
    // wait until their next heartbeat's refresh, so a failure here is not the breaker's concern.
    sendControl(this.o.sql, { kind: 'types' }).catch(() => {})
  }
}
