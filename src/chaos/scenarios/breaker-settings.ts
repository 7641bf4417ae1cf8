// Scenarios that trip breakers shorten a type's cool-down (30 s by default) for their run, and put
// the admin's settings back afterwards, whatever happened.
import type { ApiBreaker, ApiClient } from '../client'

export async function withBreaker<T>(
  api: ApiClient,
  type: string,
  settings: Partial<Pick<ApiBreaker, 'failure_threshold' | 'success_threshold' | 'cooldown_ms'>>,
  fn: () => Promise<T>,
): Promise<T> {
  const before = (await api.type(type)).breaker
  await api.patchType(type, { breaker: { ...settings, state: 'closed' } })
  try {
    return await fn()
  } finally {
    await api
      .patchType(type, {
        breaker: {
          failure_threshold: before.failure_threshold,
          success_threshold: before.success_threshold,
          cooldown_ms: before.cooldown_ms,
          state: 'closed',
        },
      })
      .catch(() => {})
  }
}
