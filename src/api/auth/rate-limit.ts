// Failed logins slow down, they do not lock out. The old limiter locked an account for 15
// minutes after 5 wrong guesses, a denial of service anyone could repeat; it keyed accounts on the
// JavaScript-lowercased login while the lookup used PostgreSQL's lower(), which disagree on "İ",
// so every spelling got a fresh budget (issue 12, item 7). Now:
// - per account, keyed on the user id (or on PostgreSQL's lower() of an unknown login): 5 free
//   failures, then each attempt waits 1 s, 2 s, 4 s … up to 30 s after the last failure;
// - per client address: 20 free, then up to 15 s, so one address cannot spray many accounts;
// - an address the account has logged in from before is not held by the account's delay (only
//   by its own address delay): failures from elsewhere never keep the real user out.
// Kept in memory: a restart forgets the counts, which costs an attacker a restart they cannot
// trigger. Failures are forgotten 15 minutes after the last one.
export interface SlowDownRule {
  /** Failures allowed before any wait. */
  free: number
  /** The first wait; each further failure doubles it. */
  baseMs: number
  maxMs: number
  /** A key with no failure for this long starts afresh. */
  forgetMs: number
}

export class SlowDown {
  private readonly hits = new Map<string, { failures: number; last: number }>()

  constructor(private readonly rule: SlowDownRule) {}

  /** Milliseconds until `key` may try again, or 0 when it may now. */
  waitFor(key: string, now = Date.now()): number {
    const h = this.live(key, now)
    if (!h || h.failures < this.rule.free) return 0
    const delay = Math.min(this.rule.baseMs * 2 ** (h.failures - this.rule.free), this.rule.maxMs)
    return Math.max(0, h.last + delay - now)
  }

  fail(key: string, now = Date.now()): void {
    const h = this.live(key, now)
    if (h) {
      h.failures++
      h.last = now
    } else this.hits.set(key, { failures: 1, last: now })
    if (this.hits.size > 100_000) for (const k of [...this.hits.keys()]) this.live(k, now)
  }

  clear(key: string): void {
    this.hits.delete(key)
  }

  private live(key: string, now: number) {
    const h = this.hits.get(key)
    if (h && now - h.last > this.rule.forgetMs) {
      this.hits.delete(key)
      return undefined
    }
    return h
  }
}

export const ACCOUNT_RULE: SlowDownRule = { free: 5, baseMs: 1000, maxMs: 30_000, forgetMs: 15 * 60_000 }
export const ADDRESS_RULE: SlowDownRule = { free: 20, baseMs: 1000, maxMs: 15_000, forgetMs: 15 * 60_000 }
/** How long an address that logged in stays known to its account. */
const KNOWN_FOR_MS = 30 * 24 * 3600_000

export class LoginThrottle {
  private readonly accounts = new SlowDown(ACCOUNT_RULE)
  private readonly addresses = new SlowDown(ADDRESS_RULE)
  private readonly known = new Map<string, Map<string, number>>()

  /** Milliseconds this attempt must wait, or 0. */
  waitFor(account: string, address: string, now = Date.now()): number {
    const byAddress = this.addresses.waitFor(address, now)
    const byAccount = this.isKnown(account, address, now) ? 0 : this.accounts.waitFor(account, now)
    return Math.max(byAddress, byAccount)
  }

  failed(account: string, address: string, now = Date.now()): void {
    this.accounts.fail(account, now)
    this.addresses.fail(address, now)
  }

  /** Remembers the address. Failures are not cleared: a success must not buy new free guesses. */
  succeeded(account: string, address: string, now = Date.now()): void {
    let mine = this.known.get(account)
    if (!mine) {
      if (this.known.size > 100_000) this.known.clear()
      mine = new Map()
      this.known.set(account, mine)
    }
    mine.delete(address)
    mine.set(address, now)
    // The 20 most recent addresses of an account are enough to recognise its owner.
    if (mine.size > 20) mine.delete(mine.keys().next().value!)
  }

  private isKnown(account: string, address: string, now: number): boolean {
    const at = this.known.get(account)?.get(address)
    return at !== undefined && now - at < KNOWN_FOR_MS
  }
}
