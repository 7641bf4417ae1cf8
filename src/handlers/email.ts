import { Type } from '@sinclair/typebox'
import { defineHandler, RetryableError, sleep } from './contract'

/** A simulated send: it waits like a mail server would, and fails transiently on "fail" in the body. */
export const email = defineHandler({
  type: 'email',
  description: 'Email notification (simulated send with latency; a body containing "fail" fails transiently)',
  schema: Type.Object({
    to: Type.String({ minLength: 3, maxLength: 320, pattern: '^[^@\\s]+@[^@\\s]+$' }),
    subject: Type.String({ minLength: 1, maxLength: 998 }),
    body: Type.String({ maxLength: 1_000_000 }),
    latency_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
  }),
  example: { to: 'user@example.com', subject: 'Welcome!', body: 'Thanks for signing up' },
  async run(p, ctx) {
    await sleep(p.latency_ms ?? 500, ctx.signal)
    if (p.body.includes('fail')) throw new RetryableError('Email service error')
    return { status: 'sent', recipient: p.to, sent_at: new Date().toISOString() }
  },
})
