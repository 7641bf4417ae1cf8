// Scenarios that trip breakers shorten a type's cool-down (30 s by default) for their run, and put
// the admin's settings back afterwards, whatever happened.
import type { ApiBreaker } from '../client'
import { type Ctx, restoring } from '../scenario'

export async function withBreaker<T>(
  ctx: Ctx,
  type: string,
  settings: Partial<Pick<ApiBreaker, 'failure_threshold' | 'success_threshold' | 'cooldown_ms'>>,
  fn: () => Promise<T>,
): Promise<T> {
  const before = (await ctx.api.type(type)).breaker
  await ctx.api.patchType(type, { breaker: { ...settings, state: 'closed' } })
  const { failure_threshold, success_threshold, cooldown_ms } = before
  return restoring(
    ctx,
    () =>
      ctx.api.patchType(type, {
        breaker: { failure_threshold, success_threshold, cooldown_ms, state: 'closed' },
      }),
    fn,
  )
}
