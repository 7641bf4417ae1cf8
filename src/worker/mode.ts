// The worker's one mode. Everything that used to be a flag of its own (stopping, grace over, …)
// is read from here, and every change goes through `to()`, which refuses a transition the diagram
// does not have: a bug that would, say, restart a stopped worker throws instead of half-working.
//
//   starting → running → draining → stopped
//       └────────────────────↑            (SIGTERM during start-up drains too)

export type Mode = 'starting' | 'running' | 'draining' | 'stopped'

const NEXT: Readonly<Record<Mode, readonly Mode[]>> = {
  starting: ['running', 'draining'],
  running: ['draining'],
  draining: ['stopped'],
  stopped: [],
}

export class WorkerMode {
  private current: Mode = 'starting'

  get value(): Mode {
    return this.current
  }

  /** True while the worker may claim and start attempts. */
  get accepting(): boolean {
    return this.current === 'running'
  }

  to(next: Mode): void {
    if (!NEXT[this.current].includes(next))
      throw new Error(`worker mode: ${this.current} → ${next} is not a transition`)
    this.current = next
  }
}

/** Resolves true when `p` settles before `deadline` (epoch ms), false otherwise; never sleeps past it. */
export async function settlesBy(p: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: Timer | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))
  })
  try {
    return await Promise.race([p.then(() => true as const), late])
  } finally {
    clearTimeout(timer)
  }
}
