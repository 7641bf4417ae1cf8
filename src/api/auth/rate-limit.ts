// Failed logins, counted per account and per client address in fixed windows. 5 failures per
// account per 15 minutes stops online guessing of one password (5 × 96 a day) without locking a
// user out for long; 20 per address lets a shared NAT make honest mistakes. Kept in memory: a
// restart forgets the counts, which costs an attacker a restart they cannot trigger.
export interface LimitRule {
  max: number
  windowMs: number
}

export class FailureLimiter {
  private readonly hits = new Map<string, { count: number; resetAt: number }>()

  constructor(private readonly rule: LimitRule) {}

  /** Milliseconds until `key` may try again, or 0 when it may now. */
  blockedFor(key: string, now = Date.now()): number {
    const h = this.hits.get(key)
    if (!h || h.resetAt <= now) return 0
    return h.count >= this.rule.max ? h.resetAt - now : 0
  }

  fail(key: string, now = Date.now()): void {
    const h = this.hits.get(key)
    if (!h || h.resetAt <= now) this.hits.set(key, { count: 1, resetAt: now + this.rule.windowMs })
    else h.count++
    if (this.hits.size > 100_000) this.sweep(now)
  }

  clear(key: string): void {
    this.hits.delete(key)
  }

  private sweep(now: number): void {
    for (const [k, h] of this.hits) if (h.resetAt <= now) this.hits.delete(k)
  }
}

export const ACCOUNT_RULE: LimitRule = { max: 5, windowMs: 15 * 60_000 }
export const ADDRESS_RULE: LimitRule = { max: 20, windowMs: 15 * 60_000 }
