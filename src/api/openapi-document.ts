// The OpenAPI document as the server serves it, built without a database (the routes only query
// when called): for `redocly lint`, client generation and tests. The chaos routes are included.
import { loadConfig } from '../config'
import { connect } from '../db/connect'
import { silentLogger } from '../log'
import { QueueEventBus } from '../queue/events'
import { Notifier } from '../queue/notify'
import { enqueueDefaultsOf } from '../runtime'
import { API_PREFIX, createApp } from './app'

export async function openApiDocument(): Promise<unknown> {
  const config = loadConfig({ chaos: true }, {})
  // Never connected: postgres.js opens a connection on the first query, and building the document runs none.
  const sql = connect('postgres://nobody@127.0.0.1:1/none', { max: 1 })
  const app = createApp({
    config,
    log: silentLogger,
    sql,
    events: new QueueEventBus(),
    notifier: new Notifier(sql),
    enqueueDefaults: enqueueDefaultsOf(config),
  })
  const res = await app.handle(new Request(`http://localhost${API_PREFIX}/openapi.json`))
  await sql.end({ timeout: 0 })
  return res.json()
}
