// Runs after every install (npm and bun run a project's own postinstall). It mends a bug in
// postgres.js 3.4.9, the latest release, that the chaos lab's db-restart scenario found:
//
// A connection that closes while a small write is waiting for its setImmediate flush clears that
// immediate without setting `nextWriteTimer` back to null and keeps the buffered `chunk`. write()
// only schedules a flush while the timer is null, so the connection's next StartupMessage is never
// sent: every reconnect times out (CONNECT_TIMEOUT every connect_timeout, ~20-40 s here under Bun)
// until enough stale bytes pile up to cross the 1,024-byte flush threshold, and those stale bytes
// from the dead socket are then written ahead of the new startup. Reported upstream (porsager/postgres
// #1208, and the downstream analysis in LanternOps/breeze#3225); no release carries a fix yet.
//
// The fix: reset both on teardown, and skip a flush whose socket is already gone. Idempotent; a
// future version without the pattern is left alone with a warning.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// postgres's exports map hides package.json from require.resolve; the project's own copy is here.
const root = fileURLToPath(new URL('../node_modules/postgres/', import.meta.url))
if (!existsSync(root)) process.exit(0)

const MARK = '/* tasklab: teardown resets the write buffer */'
// The two teardown calls stand alone on their line (terminate() and closed()); nextWrite's own is guarded.
const TEARDOWN = /^(\s+)clearImmediate\(nextWriteTimer\)\n/gm
const FIXED_TEARDOWN = `$1clearImmediate(nextWriteTimer)\n$1${MARK} nextWriteTimer = null, chunk = null\n`
const FLUSH = 'function nextWrite(fn) {\n'
const FIXED_FLUSH = `function nextWrite(fn) {\n    if (!socket) return (chunk = nextWriteTimer = null, true) ${MARK}\n`

for (const rel of ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js']) {
  const file = root + rel
  let text
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    continue
  }
  if (text.includes(MARK)) continue
  const teardowns = text.match(TEARDOWN)?.length ?? 0
  if (teardowns !== 2 || !text.includes(FLUSH)) {
    console.warn(`tasklab: postgres ${rel} changed shape; not patching (check whether the reconnect bug is fixed)`)
    continue
  }
  writeFileSync(file, text.replaceAll(TEARDOWN, FIXED_TEARDOWN).replace(FLUSH, FIXED_FLUSH))
  console.log(`tasklab: patched postgres ${rel} (stale write buffer after a closed connection)`)
}
