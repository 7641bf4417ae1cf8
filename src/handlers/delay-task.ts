import { Type } from '@sinclair/typebox'
import { defineHandler, sleep } from './contract'

/** Sleeps; honours cancel and timeout. delay_seconds 0 is a no-op task (the benchmarks use it). */
export const delayTask = defineHandler({
  type: 'delay_task',
  description: 'Sleeps delay_seconds (fractions allowed); honours cancel and timeout',
  schema: Type.Object({ delay_seconds: Type.Number({ minimum: 0, maximum: 86_400 }) }),
  example: { delay_seconds: 2 },
  async run({ delay_seconds }, ctx) {
    if (delay_seconds > 0) await sleep(delay_seconds * 1000, ctx.signal)
    return { slept_seconds: delay_seconds }
  },
})
