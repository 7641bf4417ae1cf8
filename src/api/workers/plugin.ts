// GET /workers: every worker seen in the last day, alive or not, with what it runs now.
import { Elysia } from 'elysia'
import { listWorkers } from '../../queue/worker-list'
import { authenticate } from '../auth/guard'
import type { ApiDeps } from '../deps'
import { doc } from '../docs'
import { ok } from '../envelope'
import { protocolPlugin } from './protocol'

export function workersPlugin(deps: ApiDeps) {
  return new Elysia({ name: 'tasklab-workers' }).use(protocolPlugin(deps)).get(
    '/workers',
    async ({ headers }) => {
      await authenticate(deps.sql, headers.authorization)
      return ok(await listWorkers(deps.sql))
    },
    {
      detail: doc('workers', 'Workers: id, host, pid, started, last heartbeat, types, alive, running tasks', {
        auth: true,
      }),
    },
  )
}
