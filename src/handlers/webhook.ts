import { Type } from '@sinclair/typebox'
import { defineHandler, PermanentError, RetryableError } from './contract'

/** A real HTTP request. 5xx and network errors are retried; 4xx means the request itself is wrong. */
export const webhook = defineHandler({
  type: 'webhook',
  description: 'HTTP request with a timeout; 5xx and network errors retry, 4xx is permanent',
  schema: Type.Object({
    url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
    method: Type.Optional(Type.Union(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => Type.Literal(m)))),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    payload: Type.Optional(Type.Unknown()),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000 })),
  }),
  example: { url: 'http://127.0.0.1:3000/api/v1/health', method: 'GET' },
  async run(p, ctx) {
    const method = p.method ?? 'POST'
    const timeout = AbortSignal.timeout(p.timeout_ms ?? 10_000)
    let res: Response
    try {
      res = await fetch(p.url, {
        method,
        headers: { 'content-type': 'application/json', 'user-agent': 'tasklab-webhook', ...p.headers },
        body: method === 'GET' || p.payload === undefined ? undefined : JSON.stringify(p.payload),
        signal: AbortSignal.any([ctx.signal, timeout]),
        redirect: 'manual',
      })
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      if (timeout.aborted) throw new RetryableError(`Webhook timed out after ${p.timeout_ms ?? 10_000} ms`)
      throw new RetryableError(`Webhook request failed: ${(err as Error).message}`)
    }
    const body = (await res.text()).slice(0, 4096)
    if (res.status >= 500) throw new RetryableError(`Webhook answered ${res.status}`)
    if (res.status >= 400) throw new PermanentError(`Webhook answered ${res.status}: ${body.slice(0, 200)}`)
    return { status: res.status, body }
  },
})
