// Requests in flight per client address. Every request holds a place from onRequest until its
// answer is sent (an event stream until it closes); past the cap an address gets 429 and, past the
// overall cap, everyone gets 503, both with Retry-After. Idle keep-alive sockets hold no place:
// the server's idle timeout closes them (issue 12, item 6: 20,000 idle sockets exhausted the
// file limit while every connection had no timeout).
import { ApiError } from '../errors'

const releases = new WeakMap<Request, () => void>()
const longLived = new WeakSet<Request>()

export class ConnectionLimiter {
  private readonly byAddress = new Map<string, number>()
  private total = 0

  constructor(
    readonly perAddress: number,
    readonly overall: number,
  ) {}

  /** Takes a place for `request`, or throws the 429/503 to answer with. */
  admit(request: Request, address: string): void {
    const mine = this.byAddress.get(address) ?? 0
    if (mine >= this.perAddress)
      throw new ApiError(
        429,
        'TOO_MANY_CONNECTIONS',
        `This address already has ${mine} requests in flight (the limit is ${this.perAddress}); wait for some to finish.`,
        { limit: this.perAddress },
        { 'retry-after': '1' },
      )
    if (this.total >= this.overall)
      throw new ApiError(
        503,
        'SERVER_BUSY',
        `The server has ${this.total} requests in flight, its limit; try again shortly.`,
        { limit: this.overall },
        { 'retry-after': '1' },
      )
    this.byAddress.set(address, mine + 1)
    this.total++
    let released = false
    const release = () => {
      if (released) return
      released = true
      this.total--
      const n = (this.byAddress.get(address) ?? 1) - 1
      if (n <= 0) this.byAddress.delete(address)
      else this.byAddress.set(address, n)
    }
    releases.set(request, release)
    // A client that goes away frees its place even if no answer is ever sent.
    request.signal.addEventListener('abort', release, { once: true })
  }

  inFlight(address?: string): number {
    return address === undefined ? this.total : (this.byAddress.get(address) ?? 0)
  }
}

/** Called once the answer is sent; a long-lived answer (an event stream) keeps its place. */
export function releaseAfterResponse(request: Request): void {
  if (!longLived.has(request)) releases.get(request)?.()
}

/** For an answer that stays open: returns the function that frees the request's place. */
export function keepOpen(request: Request): () => void {
  longLived.add(request)
  return () => releases.get(request)?.()
}
