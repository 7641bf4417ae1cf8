// Loaded before every test file (bunfig.toml [test] preload). With TEST_DATABASE_URL set, the suite
// uses that server. Without it, the suite brings its own: one embedded PostgreSQL per `bun test`
// run, started through the product's own code (src/db/embedded.ts) in a temp folder and stopped
// when the run ends, so `npm test` needs no PostgreSQL on the machine. Test files get their own
// databases on it as always (test/helpers/db.ts).
import { afterAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { openEmbedded, tcpUrl } from '../../src/db/embedded'
import { readPostmasterPid } from '../../src/db/pg-process'
import { silentLogger } from '../../src/log'

if (!process.env.TEST_DATABASE_URL) {
  // Under /tmp, short: the unix socket's path must stay under 107 bytes.
  const dir = mkdtempSync(join('/tmp', 'tasklab-testdb-'))
  const db = await openEmbedded(dir, silentLogger)
  const port = Number(new URL(db.url).port)
  process.env.TEST_DATABASE_URL = tcpUrl(port, 'postgres')
  let closed = false
  afterAll(async () => {
    closed = true
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })
  // A run that ends without its afterAll (an uncaught error, bun exiting early): immediate shutdown,
  // so no postgres outlives the run.
  process.on('exit', () => {
    if (closed) return
    const pm = readPostmasterPid(join(dir, 'pgdata'))
    if (pm) process.kill(pm.pid, 'SIGQUIT')
  })
}
