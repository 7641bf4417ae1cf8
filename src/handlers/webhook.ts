import { Type } from '@sinclair/typebox'
import { defineHandler, PermanentError, RetryableError } from './contract'
import { type OutboundPolicy, OutboundRefused, pinnedUrl, readCapped } from './outbound'

/** How much of the reply is kept in the result; the rest is never read. */
export const WEBHOOK_BODY_BYTES = 4096

/** Headers that describe the connection or the framing: ours to set, never the task's. */
const RESERVED = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
])

function userHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers ?? {})) if (!RESERVED.has(k.toLowerCase())) out[k] = v
  return out
}

/**
 * A real HTTP request. 5xx and network errors are retried; 4xx means the request itself is wrong.
 * The target must resolve to public addresses unless `policy` allows it (see outbound.ts);
 * redirects are not followed (a 3xx is the answer), and one timeout covers the whole exchange:
 * the lookup, the connection, the headers and the body.
 */
export function webhook(policy: OutboundPolicy) {
  return defineHandler({
    type: 'webhook',
    description: 'HTTP request with a timeout; 5xx and network errors retry, 4xx is permanent',
    schema: Type.Object({
      url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
      method: Type.Optional(
        Type.Union(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => Type.Literal(m))),
      ),
      headers: Type.Optional(Type.Record(Type.String(), Type.String())),
      payload: Type.Optional(Type.Unknown()),
      timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000 })),
    }),
    example: { url: 'https://example.com/hooks/tasklab', method: 'POST', payload: { event: 'ping' } },
    async run(p, ctx) {
      const method = p.method ?? 'POST'
      const timeoutMs = p.timeout_ms ?? 10_000
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = AbortSignal.any([ctx.signal, timeout])
      const failed = (err: unknown): never => {
        if (ctx.signal.aborted) throw ctx.signal.reason
        if (timeout.aborted) throw new RetryableError(`Webhook timed out after ${timeoutMs} ms`)
        if (err instanceof OutboundRefused) throw new PermanentError(`Webhook refused: ${err.message}`)
        throw new RetryableError(`Webhook request failed: ${(err as Error).message}`)
      }
      let url: URL
      try {
        url = new URL(p.url)
      } catch {
        throw new PermanentError('Invalid payload: payload.url: not a valid URL')
      }
      let res: Response
      try {
        const address = await policy.resolve(url.hostname, signal)
        res = await fetch(pinnedUrl(url, address), {
          method,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'tasklab-webhook',
            ...userHeaders(p.headers),
            host: url.host,
          },
          body: method === 'GET' || p.payload === undefined ? undefined : JSON.stringify(p.payload),
          signal,
          redirect: 'manual',
          // The connection goes to the checked address; TLS still verifies the name in the URL.
          tls: { serverName: url.hostname.replace(/^\[|\]$/g, '') },
        })
      } catch (err) {
        return failed(err)
      }
      let body: string
      try {
        const { bytes } = await readCapped(res, WEBHOOK_BODY_BYTES, signal)
        // A cut multi-byte character or binary bytes become U+FFFD; the worker strips NUL.
        body = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
      } catch (err) {
        return failed(err)
      }
      if (res.status >= 500) throw new RetryableError(`Webhook answered ${res.status}`)
      if (res.status >= 400) throw new PermanentError(`Webhook answered ${res.status}: ${body.slice(0, 200)}`)
      return { status: res.status, body }
    },
  })
}
