// `tasklab why <task id>`: what holds a task back, asked of a running tasklab through its API
// (GET /api/v1/tasks/{id}/why), printed one reason a line — the same words the panel shows.
import { ConfigError, type Flags } from '../config'

interface Reason {
  code: string
  message: string
}
interface Why {
  task_id: string
  status: string
  runnable: boolean
  reasons: Reason[]
}

export function formatWhy(w: Why): string {
  const state = w.runnable ? 'runnable' : w.status === 'running' ? 'running' : 'not runnable'
  const width = Math.max(...w.reasons.map((r) => r.code.length))
  return [
    `task ${w.task_id}: ${w.status}, ${state}`,
    ...w.reasons.map((r) => `  ${r.code.padEnd(width)}  ${r.message}`),
  ].join('\n')
}

export async function runWhy(
  positional: string[],
  flags: Flags,
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const id = positional[0]
  if (!id) throw new ConfigError('tasklab why needs a task id: tasklab why <id> --url URL --token T.')
  if (positional.length > 1)
    throw new ConfigError(`Unexpected argument "${positional[1]}"; see tasklab why --help.`)
  const url = typeof flags.url === 'string' ? flags.url.replace(/\/+$/, '') : 'http://127.0.0.1:3000'
  const token = typeof flags.token === 'string' ? flags.token : undefined
  if (!token) throw new ConfigError('tasklab why needs --token: a session token (POST /api/v1/auth/login).')
  let res: Response
  try {
    res = await fetch(`${url}/api/v1/tasks/${encodeURIComponent(id)}/why`, {
      headers: { authorization: `Bearer ${token}` },
    })
  } catch (err) {
    throw new Error(`cannot reach tasklab at ${url}: ${err instanceof Error ? err.message : String(err)}`)
  }
  const body = (await res.json().catch(() => null)) as { data?: Why; error?: { message: string } } | null
  if (!res.ok || !body?.data) throw new Error(body?.error?.message ?? `${url} answered ${res.status}`)
  if (flags.json) out(`${JSON.stringify(body.data, null, 2)}\n`)
  else out(`${formatWhy(body.data)}\n`)
  return 0
}
