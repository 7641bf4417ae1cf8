// The scenarios' only way into tasklab: its public HTTP API (CONTRACT §3 and §5), so a scenario runs
// the same against a spawned cluster and against someone's running instance.
import type { Storage, Task, TaskEvent, TaskType, Worker } from '../api/wire'

export class ApiCallError extends Error {
  override name = 'ApiCallError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

// The wire types are the API's own, derived from its response schemas: no hand-written copy.
export type ApiTask = Task
export type ApiTaskEvent = TaskEvent
export type ApiTaskType = TaskType
export type ApiBreaker = TaskType['breaker']
export type ApiWorker = Worker

export type ApiStorage = Storage

export class ApiClient {
  readonly base: string

  constructor(
    url: string,
    public token?: string,
  ) {
    this.base = `${url.replace(/\/+$/, '').replace(/\/api\/v1$/, '')}/api/v1`
  }

  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ data: T; meta?: { total: number } }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
    const text = await res.text()
    let json: {
      success?: boolean
      data?: T
      meta?: { total: number }
      error?: { code: string; message: string }
    }
    try {
      json = JSON.parse(text)
    } catch {
      throw new ApiCallError(
        res.status,
        'NOT_JSON',
        `${method} ${path} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`,
      )
    }
    if (!res.ok || json.success === false)
      throw new ApiCallError(
        res.status,
        json.error?.code ?? 'HTTP_ERROR',
        `${method} ${path} → ${res.status} ${json.error?.code ?? ''}: ${json.error?.message ?? text.slice(0, 200)}`,
      )
    return { data: json.data as T, meta: json.meta }
  }

  /** The readiness probe's status code; 0 when the server is unreachable. */
  async ready(): Promise<number> {
    try {
      const res = await fetch(`${this.base}/health/ready`, { signal: AbortSignal.timeout(5000) })
      await res.arrayBuffer()
      return res.status
    } catch {
      return 0
    }
  }

  async login(username: string, password: string): Promise<string> {
    const { data } = await this.call<{ session_token: string }>('POST', '/auth/login', { username, password })
    this.token = data.session_token
    return data.session_token
  }

  async register(username: string, email: string, password: string): Promise<void> {
    await this.call('POST', '/auth/register', { username, email, password })
  }

  async me(): Promise<{ id: string; role: string; username: string }> {
    return (await this.call<{ id: string; role: string; username: string }>('GET', '/auth/me')).data
  }

  async createTask(task: Record<string, unknown>): Promise<ApiTask> {
    return (await this.call<ApiTask>('POST', '/tasks', task)).data
  }

  async createBatch(tasks: Record<string, unknown>[]): Promise<ApiTask[]> {
    const out: ApiTask[] = []
    for (let i = 0; i < tasks.length; i += 1000) {
      const { data } = await this.call<ApiTask[] | { tasks: ApiTask[] }>('POST', '/tasks/batch', {
        tasks: tasks.slice(i, i + 1000),
      })
      out.push(...(Array.isArray(data) ? data : data.tasks))
    }
    return out
  }

  /** One page of tasks and the total matching the filters. */
  async listTasks(params: Record<string, string | number>): Promise<{ tasks: ApiTask[]; total: number }> {
    const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))
    const { data, meta } = await this.call<ApiTask[]>('GET', `/tasks?${qs}`)
    return { tasks: data, total: meta?.total ?? data.length }
  }

  /** Every task whose id, type, error or metadata contains `q` (the run id), 1,000 per page. */
  async allTasks(q: string): Promise<ApiTask[]> {
    const out: ApiTask[] = []
    for (let offset = 0; ; offset += 1000) {
      const { tasks, total } = await this.listTasks({ q, limit: 1000, offset })
      out.push(...tasks)
      if (tasks.length === 0 || out.length >= total) return out
    }
  }

  async taskEvents(id: string): Promise<ApiTaskEvent[]> {
    return (await this.call<ApiTaskEvent[]>('GET', `/tasks/${id}/events`)).data
  }

  async deadLetter(offset: number, limit: number): Promise<{ tasks: ApiTask[]; total: number }> {
    const { data, meta } = await this.call<ApiTask[]>(
      'GET',
      `/tasks/dead-letter?limit=${limit}&offset=${offset}`,
    )
    return { tasks: data, total: meta?.total ?? data.length }
  }

  async types(): Promise<ApiTaskType[]> {
    return (await this.call<ApiTaskType[]>('GET', '/tasks/types')).data
  }

  async type(name: string): Promise<ApiTaskType> {
    const found = (await this.types()).find((t) => t.task_type === name)
    if (!found) throw new ApiCallError(404, 'TASK_TYPE_NOT_FOUND', `task type ${name} is not registered`)
    return found
  }

  async patchType(name: string, patch: Record<string, unknown>): Promise<ApiTaskType> {
    return (await this.call<ApiTaskType>('PATCH', `/tasks/types/${name}`, patch)).data
  }

  async workers(): Promise<ApiWorker[]> {
    return (await this.call<ApiWorker[]>('GET', '/workers')).data
  }

  async createFault(rule: Record<string, unknown>): Promise<{ id: string }> {
    return (await this.call<{ id: string }>('POST', '/chaos/faults', rule)).data
  }

  async deleteFault(id: string): Promise<void> {
    await this.call('DELETE', `/chaos/faults/${id}`)
  }

  async faults(): Promise<{ id: string; task_type: string; kind: string }[]> {
    return (await this.call<{ id: string; task_type: string; kind: string }[]>('GET', '/chaos/faults')).data
  }

  /** GET /storage: tables, dead rows and the oldest open transaction (admin). */
  async storage(longTransactionSecs?: number): Promise<ApiStorage> {
    const q = longTransactionSecs === undefined ? '' : `?long_transaction_secs=${longTransactionSecs}`
    return (await this.call<ApiStorage>('GET', `/storage${q}`)).data
  }

  async killWorker(id: string): Promise<void> {
    await this.call('POST', `/chaos/workers/${encodeURIComponent(id)}/kill`)
  }
}
