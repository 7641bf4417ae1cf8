// The import directions of biome.json (docs/development.md, "Where code may import from") are
// globs: a glob that matches nothing passes `npm run lint` as quietly as a rule that holds. This
// test lints small files, placed where the rules apply, in a scratch copy of the project's layout
// with the project's biome.json, and checks that each forbidden import is reported and each
// allowed one is not.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

const ROOT = join(import.meta.dir, '../..')
const BIOME = join(ROOT, 'node_modules/.bin/biome')

/** file → the import sources it holds, and whether each one must be refused. */
const CASES: Record<string, Record<string, 'refused' | 'allowed'>> = {
  // The server side never imports the chaos lab; the command dispatcher may start it.
  'src/api/chaos/plugin.ts': { '../../lab/report': 'refused', '../../faults/rules': 'allowed' },
  'src/faults/kill.ts': { '../lab/client': 'refused', '../queue/notify': 'allowed' },
  'src/cli/run.ts': { '../lab/command': 'refused', '../faults/inject': 'allowed' },
  'src/worker/runner.ts': { '../lab/scenario': 'refused' },
  'src/main.ts': { './lab/command': 'allowed' },
  // The lab reaches tasklab over HTTP: the API's types, pure rules, settings, the database process.
  'src/lab/command.ts': {
    '../api/client': 'allowed',
    '../shared/states': 'allowed',
    '../config': 'allowed',
    '../db/embedded': 'allowed',
    '../db/pg-process': 'allowed',
    './client': 'allowed',
    '../queue/claim': 'refused',
    '../worker/runner': 'refused',
    '../faults/rules': 'refused',
    '../api/tasks/service': 'refused',
    '../db/connect': 'refused',
    '../log': 'refused',
  },
  'src/lab/scenarios/flood.ts': {
    '../scenario': 'allowed',
    '../../shared/states': 'allowed',
    '../../db/embedded': 'allowed',
    '../../queue/rescue': 'refused',
    '../../faults/kill': 'refused',
  },
  // The rules that were there before: panel → API types and shared; engine → db and shared.
  'web/views/chaos.tsx': {
    '../../src/api/client': 'allowed',
    '../../src/api/client/schema': 'allowed',
    '../../src/api/errors': 'refused',
    '../../src/queue/claim': 'refused',
  },
  // The typed client is bundled into the panel: it imports nothing of the server.
  'src/api/client/index.ts': {
    './schema': 'allowed',
    '../errors': 'refused',
    '../../queue/states': 'refused',
  },
  'src/queue/claim.ts': {
    '../db/connect': 'allowed',
    '../api/errors': 'refused',
    '../lab/report': 'refused',
  },
  'src/shared/retry.ts': { '../queue/states': 'refused' },
}

let dir: string
let refused: Map<string, Set<number>>

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tasklab-imports-'))
  writeFileSync(join(dir, 'biome.json'), readFileSync(join(ROOT, 'biome.json')))
  for (const [file, sources] of Object.entries(CASES)) {
    mkdirSync(join(dir, dirname(file)), { recursive: true })
    const lines = Object.keys(sources).map((s, i) => `import type { T as T${i} } from '${s}'`)
    writeFileSync(
      join(dir, file),
      `${lines.join('\n')}\nexport type All = ${lines.map((_, i) => `T${i}`).join(' | ')}\n`,
    )
  }
  const run = Bun.spawnSync([BIOME, 'lint', '--reporter=json', '--max-diagnostics=none', '.'], { cwd: dir })
  const report = JSON.parse(run.stdout.toString()) as {
    diagnostics: { category: string; location: { path: string; start: { line: number } } }[]
  }
  refused = new Map()
  for (const d of report.diagnostics) {
    if (d.category !== 'lint/style/noRestrictedImports') continue
    const lines = refused.get(d.location.path) ?? new Set()
    lines.add(d.location.start.line)
    refused.set(d.location.path, lines)
  }
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test.each(Object.keys(CASES))('the import rules of biome.json hold for %s', (file) => {
  const got = Object.keys(CASES[file]!).map((source, i) => [
    source,
    refused.get(file)?.has(i + 1) ? 'refused' : 'allowed',
  ])
  expect(Object.fromEntries(got)).toEqual(CASES[file]!)
})
