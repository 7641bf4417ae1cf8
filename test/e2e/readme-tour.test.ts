// The README's 60-second tour, run as written against the built binary: its shell blocks are taken
// from README.md and run by bash with only the port, the login link, the binary's path and the data
// directory filled in. It fails when the tour stops working: a command, a route, a field or the
// outcome it promises (a task's history, a killed worker's tasks rescued as "worker lost", a chaos
// run that passes).
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { rm } from 'node:fs/promises'
import { TASKLAB_BIN } from '../helpers/binary'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { runToEnd, tempDir } from '../helpers/proc'

let db: TestDatabase
let dir: string

beforeAll(async () => {
  db = await createTestDatabase()
  dir = await tempDir('tour')
})
afterAll(async () => {
  await db.drop()
  await rm(dir, { recursive: true, force: true })
})

/** The tour's shell blocks: the first starts tasklab, the others are typed in a second terminal. */
async function tourBlocks(): Promise<string[]> {
  const readme = await Bun.file('README.md').text()
  const tour = readme.split('\n## A 60-second tour\n')[1]?.split('\n## ')[0] ?? ''
  return [...tour.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!)
}

test('the README starts the tour with npm start, which runs the binary it builds', async () => {
  const [start] = await tourBlocks()
  expect(start).toBe('npm start -- --chaos\n')
  const pkg = (await Bun.file('package.json').json()) as { scripts: Record<string, string> }
  expect(pkg.scripts.start).toEndWith('./dist/tasklab start')
})

test('the 60-second tour works as written', async () => {
  const [, ...typed] = await tourBlocks()
  expect(typed.length).toBeGreaterThanOrEqual(3)
  const commands = typed
    .join('\n')
    .replaceAll('./dist/tasklab', '"$BIN"')
    // The tour's second worker joins the server's database: with the embedded one, through its data dir.
    .replaceAll('"$BIN" worker ', '"$BIN" worker --data-dir "$DIR/data" ')
    .replaceAll('> worker-1.log', '> "$DIR/worker-1.log"')
  const script = `
set -u
BIN=${JSON.stringify(TASKLAB_BIN)}
DIR=${JSON.stringify(dir)}
export BIN DIR
"$BIN" start --chaos --port 0 --data-dir "$DIR/data" > "$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER' EXIT
for _ in $(seq 1 120); do grep -q 'login=tl_' "$DIR/server.log" && break; sleep 0.5; done
PORT=$(grep -o 'control panel: http://127.0.0.1:[0-9]*' "$DIR/server.log" | grep -o '[0-9]*$')
LINK=$(grep -o 'login=tl_[^ ]*' "$DIR/server.log" | cut -d= -f2)
[ -n "$PORT" ] && [ -n "$LINK" ] || { echo "no banner:"; cat "$DIR/server.log"; exit 1; }
cat > "$DIR/typed.sh" <<'TOUR'
${commands}
echo "chaos exit code: $?"
# The killed worker's tasks come back when its lease runs out, failed with "worker lost".
for _ in $(seq 1 120); do api '/tasks?limit=200' | grep -q '"last_error":"worker lost"' && break; sleep 0.5; done
api '/tasks?limit=200' | grep -q '"last_error":"worker lost"' && echo "rescued: worker lost"
TOUR
sed -i "s#127.0.0.1:3000#127.0.0.1:$PORT#g; s#tl_…#$LINK#g" "$DIR/typed.sh"
bash "$DIR/typed.sh"
`
  const { code, out, err } = await runToEnd(['bash', '-c', script], {
    env: { ...process.env, DATABASE_URL: db.url },
  })
  const seen = `${out}\n${err}`
  expect({ code, seen }).toMatchObject({ code: 0 })
  // The email task's history, as the tour prints it.
  expect(seen).toContain('null -> pending\npending -> running\nrunning -> completed')
  // The chaos run: its verdict and its exit code.
  expect(seen).toContain('verdict: PASS')
  expect(seen).toContain('chaos exit code: 0')
  expect(seen).toContain('rescued: worker lost')
}, 120_000)
