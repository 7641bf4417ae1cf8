// Where a handler may send a request. A task's URL is chosen by any user, and the worker runs
// inside the network: without a check, `webhook` reached services bound to localhost, tasklab's
// own API (20 POSTs to /auth/login locked another user out), link-local metadata addresses, and
// told open ports from closed ones (issue 12, item 3). So the target is resolved first, every
// address it resolves to is checked, and the request goes to the checked address (no second
// lookup that could answer differently). Names and ranges in STARTER__WEBHOOK__ALLOW_HOSTS are
// let through, for local testing.
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'

interface Range {
  v6: boolean
  base: bigint
  bits: number
}

function v4ToBig(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
}

function v6ToBig(ip: string): bigint {
  let s = ip.toLowerCase().replace(/%.*$/, '')
  // A dotted IPv4 tail (::ffff:127.0.0.1) becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (dotted) {
    const v4 = v4ToBig(dotted[1]!)
    s = `${s.slice(0, -dotted[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  }
  const [head, tail] = s.split('::') as [string, string | undefined]
  const h = head ? head.split(':') : []
  const t = tail === undefined ? [] : tail ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g || '0', 16)), 0n)
}

/** "10.0.0.0/8", "fe80::/10" or a single address. Throws on anything else. */
export function parseRange(text: string): Range {
  const [addr, len] = text.trim().split('/') as [string, string | undefined]
  const kind = isIP(addr)
  if (kind === 0) throw new Error(`"${text}" is not an IP address or range`)
  const v6 = kind === 6
  const max = v6 ? 128 : 32
  const bits = len === undefined ? max : Number(len)
  if (!Number.isInteger(bits) || bits < 0 || bits > max || (len !== undefined && !/^\d+$/.test(len)))
    throw new Error(`"${text}" has a prefix length outside 0-${max}`)
  return { v6, base: v6 ? v6ToBig(addr) : v4ToBig(addr), bits }
}

function inRange(ip: string, r: Range): boolean {
  const v6 = isIP(ip) === 6
  if (v6 !== r.v6) return false
  const width = v6 ? 128 : 32
  const value = v6 ? v6ToBig(ip) : v4ToBig(ip)
  const shift = BigInt(width - r.bits)
  return value >> shift === r.base >> shift
}

const BLOCKED: [string, string][] = [
  ['0.0.0.0/8', 'an unspecified'],
  ['10.0.0.0/8', 'a private'],
  ['100.64.0.0/10', 'a private (carrier-grade NAT)'],
  ['127.0.0.0/8', 'a loopback'],
  ['169.254.0.0/16', 'a link-local'],
  ['172.16.0.0/12', 'a private'],
  ['192.0.0.0/24', 'a reserved'],
  ['192.168.0.0/16', 'a private'],
  ['198.18.0.0/15', 'a reserved (benchmarking)'],
  ['224.0.0.0/4', 'a multicast'],
  ['240.0.0.0/4', 'a reserved'],
  ['::/128', 'an unspecified'],
  ['::1/128', 'a loopback'],
  ['fc00::/7', 'a private (unique local)'],
  ['fe80::/10', 'a link-local'],
  ['ff00::/8', 'a multicast'],
]
const BLOCKED_RANGES = BLOCKED.map(([r, what]) => ({ range: parseRange(r), what }))

/** IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address. */
function embeddedV4(ip: string): string | null {
  if (isIP(ip) !== 6) return null
  const v = v6ToBig(ip)
  const v4 = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn)).join('.')
  if (v >> 32n === 0xffffn) return v4(v & 0xffffffffn) // ::ffff:a.b.c.d
  if (v >> 32n === 0x64ff9b0000000000000000n) return v4(v & 0xffffffffn) // 64:ff9b::/96
  if (v >> 112n === 0x2002n) return v4((v >> 80n) & 0xffffffffn) // 2002::/16
  return null
}

/** Why an address may not be called ("a loopback"), or null when it is a public one. */
export function forbiddenKind(ip: string): string | null {
  const inner = embeddedV4(ip)
  if (inner) return forbiddenKind(inner)
  for (const b of BLOCKED_RANGES) if (inRange(ip, b.range)) return b.what
  return null
}

export class OutboundRefused extends Error {
  override name = 'OutboundRefused'
}

export interface OutboundPolicy {
  /** Checks the URL's host and returns the address to connect to; throws OutboundRefused. */
  resolve(hostname: string, signal: AbortSignal): Promise<string>
}

export type Resolver = (hostname: string) => Promise<string[]>

const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address)

/**
 * `allow` lists host names (exact, case-insensitive), addresses and CIDR ranges that may be
 * called even though they are private, e.g. ["127.0.0.1", "localhost", "10.1.0.0/16"].
 */
export function outboundPolicy(allow: readonly string[] = [], resolver = systemResolver): OutboundPolicy {
  const names = new Set<string>()
  const ranges: Range[] = []
  for (const entry of allow) {
    const e = entry.trim().toLowerCase()
    if (!e) continue
    if (isIP(e.split('/')[0]!) !== 0) ranges.push(parseRange(e))
    else names.add(e)
  }
  return {
    async resolve(hostname, signal) {
      const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
      const addresses = isIP(host) ? [host] : await raceSignal(resolver(host), signal)
      if (addresses.length === 0) throw new OutboundRefused(`${host} does not resolve to any address`)
      if (names.has(host)) return addresses[0]!
      // Every address is checked, not just the first: a name that resolves to a public and a
      // private address could otherwise be steered to the private one.
      for (const ip of addresses) {
        if (ranges.some((r) => inRange(ip, r) || inRange(embeddedV4(ip) ?? ip, r))) continue
        const kind = forbiddenKind(ip)
        if (kind)
          throw new OutboundRefused(
            `${host}${host === ip ? '' : ` resolves to ${ip}, which`} is ${kind} address; tasklab does not call internal addresses. To allow it for local testing, add it to STARTER__WEBHOOK__ALLOW_HOSTS.`,
          )
      }
      return addresses[0]!
    },
  }
}

function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** The URL with its host replaced by the checked address (the port and path kept). */
export function pinnedUrl(url: URL, address: string): string {
  const pinned = new URL(url)
  pinned.hostname = isIP(address) === 6 ? `[${address}]` : address
  return pinned.toString()
}

/**
 * Reads at most `maxBytes` of a body and cancels the rest: an endless reply costs `maxBytes`, not
 * the 2.5 GB in 8 s that `res.text()` reached. Returns the bytes read and whether more followed.
 */
export async function readCapped(
  res: Response,
  maxBytes: number,
  signal: AbortSignal,
): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  if (!res.body) return { bytes: new Uint8Array(0), truncated: false }
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let truncated = false
  try {
    for (;;) {
      const { done, value } = await raceSignal(reader.read(), signal)
      if (done) break
      chunks.push(value)
      size += value.byteLength
      if (size >= maxBytes) {
        truncated = size > maxBytes
        break
      }
    }
  } finally {
    reader.cancel().catch(() => {})
  }
  const all = Buffer.concat(chunks)
  return { bytes: all.subarray(0, Math.min(all.length, maxBytes)), truncated }
}
