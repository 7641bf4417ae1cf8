// GET /workers: every worker seen in the last day, alive or not, with what it runs now.
import { Type as T } from '@sinclair/typebox'
import { Elysia } from 'elysia'
import { listWorkers } from '../../queue/worker-list'
import { authenticate } from '../auth/guard'
import { Ok, route } from '../contract'
import type { ApiDeps } from '../deps'
import { ok } from '../envelope'
import { protocolPlugin } from './protocol'
import { Worker } from './schemas'

export function workersPlugin(deps: ApiDeps) {
  return new Elysia({ name: 'tasklab-workers' }).use(protocolPlugin(deps)).get(
    '/workers',
    async ({ headers }) => {
      await authenticate(deps.sql, headers.authorization)
      return ok(await listWorkers(deps.sql))
    },
    {
      ...route('workers', 'Workers: id, host, pid, started, last heartbeat, types, alive, running tasks', {
        answer: Ok(T.Array(Worker)),
        auth: true,
      }),
    },
  )
}
