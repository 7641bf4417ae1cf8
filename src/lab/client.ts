// The scenarios' only way into tasklab: its public HTTP API (CONTRACT §3 and §5), so a scenario runs
// the same against a spawned cluster and against someone's running instance.
import {
  type Api,
  answer,
  createApi,
  dataOf,
  type NewFault,
  type NewTask,
  type Storage,
  type Task,
  type TaskEvent,
  type TaskType,
  type TypePatch,
  type Worker,
} from '../api/client'

// The wire types are the API's own, generated from its OpenAPI document: no hand-written copy.
export type ApiTask = Task
export type ApiTaskEvent = TaskEvent
export type ApiTaskType = TaskType
export type ApiBreaker = TaskType['breaker']
export type ApiWorker = Worker

export type ApiStorage = Storage

export type { NewFault, NewTask, TypePatch } from '../api/client'

export class ApiClient {
  readonly base: string
  readonly api: Api

  constructor(
    url: string,
    public token?: string,
  ) {
    this.base = `${url.replace(/\/+$/, '').replace(/\/api\/v1$/, '')}/api/v1`
    this.api = createApi({ baseUrl: url, token: () => this.token, timeoutMs: 30_000 })
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
    const session = await dataOf(this.api.POST('/api/v1/auth/login', { body: { username, password } }))
    this.token = session.session_token
    return session.session_token
  }

  async register(username: string, email: string, password: string): Promise<void> {
    await answer(this.api.POST('/api/v1/auth/register', { body: { username, email, password } }))
  }

  async me() {
    return dataOf(this.api.GET('/api/v1/auth/me'))
  }

  async createTask(task: NewTask): Promise<ApiTask> {
    return dataOf(this.api.POST('/api/v1/tasks', { body: task }))
  }

  async createBatch(tasks: NewTask[]): Promise<ApiTask[]> {
    const out: ApiTask[] = []
    for (let i = 0; i < tasks.length; i += 1000)
      out.push(
        ...(await dataOf(
          this.api.POST('/api/v1/tasks/batch', { body: { tasks: tasks.slice(i, i + 1000) } }),
        )),
      )
    return out
  }

  /** One page of tasks and the total matching the filters. */
  async listTasks(params: { q?: string; status?: string; limit?: number; offset?: number }) {
    const { limit, offset, ...rest } = params
    const query = { ...rest, limit: limit?.toString(), offset: offset?.toString() }
    const { data, meta } = await answer(this.api.GET('/api/v1/tasks', { params: { query } }))
    return { tasks: data, total: meta.total }
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
    return dataOf(this.api.GET('/api/v1/tasks/{id}/events', { params: { path: { id } } }))
  }

  async deadLetter(offset: number, limit: number): Promise<{ tasks: ApiTask[]; total: number }> {
    const query = { limit: String(limit), offset: String(offset) }
    const { data, meta } = await answer(this.api.GET('/api/v1/tasks/dead-letter', { params: { query } }))
    return { tasks: data, total: meta.total }
  }

  async types(): Promise<ApiTaskType[]> {
    return dataOf(this.api.GET('/api/v1/tasks/types'))
  }

  async type(name: string): Promise<ApiTaskType> {
    return dataOf(this.api.GET('/api/v1/tasks/types/{type}', { params: { path: { type: name } } }))
  }

  async patchType(name: string, patch: TypePatch): Promise<ApiTaskType> {
    return dataOf(
      this.api.PATCH('/api/v1/tasks/types/{type}', { params: { path: { type: name } }, body: patch }),
    )
  }

  async workers(): Promise<ApiWorker[]> {
    return dataOf(this.api.GET('/api/v1/workers'))
  }

  async createFault(rule: NewFault) {
    return dataOf(this.api.POST('/api/v1/chaos/faults', { body: rule }))
  }

  async deleteFault(id: string): Promise<void> {
    await answer(this.api.DELETE('/api/v1/chaos/faults/{id}', { params: { path: { id } } }))
  }

  async faults() {
    return dataOf(this.api.GET('/api/v1/chaos/faults'))
  }

  /** GET /storage: tables, dead rows and the oldest open transaction (admin). */
  async storage(longTransactionSecs?: number): Promise<ApiStorage> {
    const query = { long_transaction_secs: longTransactionSecs?.toString() }
    return dataOf(this.api.GET('/api/v1/storage', { params: { query } }))
  }

  async killWorker(id: string): Promise<void> {
    await answer(this.api.POST('/api/v1/chaos/workers/{id}/kill', { params: { path: { id } } }))
  }
}
