// The one polling helper of the tests: waits on a condition with a deadline, never a bare sleep.

/**
 * Polls `check` until it returns a truthy value and returns that value; at the deadline throws
 * "timed out after N ms waiting for <what>", with `detail()` (process output, counts) appended.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  opts: { timeoutMs?: number; intervalMs?: number; detail?: () => string | Promise<string> } = {},
): Promise<NonNullable<Exclude<T, false | 0 | ''>>> {
  const timeoutMs = opts.timeoutMs ?? 20_000
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  for (;;) {
    last = await check()
    if (last) return last as NonNullable<Exclude<T, false | 0 | ''>>
    if (Date.now() >= deadline) {
      const detail = opts.detail ? `\n${await opts.detail()}` : ''
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})${detail}`,
      )
    }
    await Bun.sleep(opts.intervalMs ?? 50)
  }
}
