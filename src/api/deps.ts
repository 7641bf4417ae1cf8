// What the API needs from the runtime. A Runtime satisfies it; tests build one over a test database.
import type { Config } from '../config'
import type { Sql } from '../db/connect'
import type { Logger } from '../log'
import type { EnqueueDefaults } from '../queue/enqueue'
import type { QueueEventBus } from '../queue/events'
import type { Notifier } from '../queue/notify'

export interface ApiDeps {
  config: Config
  log: Logger
  sql: Sql
  events: QueueEventBus
  notifier: Notifier
  enqueueDefaults: EnqueueDefaults
}
