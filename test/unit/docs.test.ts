// The README and docs/ are what users learn tasklab from: these tests fail when they drift from the
// code (settings, state machine, commands, task types) or from each other (links and anchors).
// The route table of docs/api.md is checked against the app in test/api/docs-routes.test.ts.
import { describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { COMMAND_HELP } from '../../src/cli/help'
import * as configModule from '../../src/config'
import { builtinHandlers } from '../../src/handlers'
import { TASK_STATUSES, TRANSITIONS } from '../../src/queue/states'
import { codeSpans, docFiles, markedBlock, proseOf, tableRows } from '../helpers/markdown'

const README_LIMIT_BYTES = 12 * 1024

const read = (file: string) => Bun.file(file).text()

describe('the README', () => {
  test(`is at most ${README_LIMIT_BYTES / 1024} KB and starts with the two commands`, async () => {
    const readme = await read('README.md')
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(README_LIMIT_BYTES)
    const [title, ...rest] = readme.split('\n')
    expect(title).toBe('# tasklab')
    expect(rest.join('\n').trimStart()).toStartWith(
      '```sh\nnpm install && npm start\n```\n```sh\nnpm test\n```\n',
    )
  })

  test('lists every command of tasklab help in its command table', async () => {
    const section = sectionOf(await read('README.md'), '## Commands')
    const named = tableRows(section).map((cells) => cells[0] ?? '')
    for (const command of Object.keys(COMMAND_HELP))
      expect({ command, listed: named.some((cell) => cell.includes(`tasklab ${command}`)) }).toEqual({
        command,
        listed: true,
      })
  })

  test('names every environment variable that src/config.ts reads', async () => {
    const spans = new Set(codeSpans(proseOf(await read('README.md'))))
    const missing = settingsInCode()
      .map((s) => s.env)
      .filter((env) => !spans.has(env))
    expect(missing).toEqual([])
  })

  test('its architecture diagram names every built-in task type', async () => {
    const readme = await read('README.md')
    const diagram = readme.split('```mermaid\nflowchart')[1]?.split('```')[0] ?? ''
    for (const { type } of builtinHandlers({ sandboxDir: '/nonexistent' })) expect(diagram).toContain(type)
  })
})

describe('docs/', () => {
  test('every relative link and anchor in README.md and docs/*.md leads somewhere that exists', async () => {
    const broken: string[] = []
    for (const file of docFiles()) {
      for (const target of linksOf(await read(file))) {
        const [path = '', anchor] = target.split('#')
        const resolved = path === '' ? file : relative('.', join(dirname(file), decodeURI(path)))
        if (!existsSync(resolved)) {
          broken.push(`${file}: ${target} (no ${resolved})`)
          continue
        }
        if (anchor && resolved.endsWith('.md') && !headingSlugs(await read(resolved)).has(anchor))
          broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`)
      }
    }
    expect(broken).toEqual([])
  })

  test('every state diagram draws exactly the transitions of src/queue/states.ts', async () => {
    const expected = TASK_STATUSES.flatMap((from) =>
      Object.keys(TRANSITIONS[from]).map((to) => `${from}->${to}`),
    ).sort()
    const withDiagram: string[] = []
    for (const file of docFiles()) {
      const block = markedBlock(await read(file), 'state-machine')
      if (block === undefined) continue
      withDiagram.push(file)
      const edges = [...block.matchAll(/^\s*(\w+) --> (\w+)\s*$/gm)].map((m) => `${m[1]}->${m[2]}`).sort()
      expect({ file, edges }).toEqual({ file, edges: expected })
      const starts = [...block.matchAll(/^\s*\[\*\] --> (\w+)\s*$/gm)].map((m) => m[1]).sort()
      expect({ file, starts }).toEqual({ file, starts: ['pending', 'scheduled'] })
    }
    expect(withDiagram).toEqual(['README.md', 'docs/architecture.md'])
  })

  test('the settings table of docs/configuration.md lists exactly the settings of src/config.ts', async () => {
    const rows = settingsTableRows(await read('docs/configuration.md'))
    expect(rows.map((r) => r.env).sort()).toEqual(
      settingsInCode()
        .map((s) => s.env)
        .sort(),
    )
    for (const setting of settingsInCode())
      if (setting.flag) {
        const row = rows.find((r) => r.env === setting.env)
        expect({ env: setting.env, flag: row?.flag }).toEqual({ env: setting.env, flag: setting.flag })
      }
  })

  test('each flag in the settings table sets what its variable sets', async () => {
    const env = { HOME: '/home/docs-test' }
    const base = JSON.stringify(configModule.loadConfig({}, env))
    for (const { env: name, flag } of settingsTableRows(await read('docs/configuration.md'))) {
      const value = SAMPLE_VALUES.find((v) => {
        try {
          return JSON.stringify(configModule.loadConfig({}, { ...env, [name]: v })) !== base
        } catch {
          return false
        }
      })
      expect({ name, sample: value !== undefined }).toEqual({ name, sample: true })
      const viaEnv = JSON.stringify(configModule.loadConfig({}, { ...env, [name]: value }))
      const viaFlag = JSON.stringify(configModule.loadConfig({ [flag]: value }, env))
      expect({ name, flag, same: viaFlag === viaEnv }).toEqual({ name, flag, same: true })
    }
  })

  test('the task type table of docs/task-types.md lists exactly the built-in handlers', async () => {
    const listed = tableRows(await read('docs/task-types.md'))
      .map((cells) => /^`(\w+)`$/.exec(cells[0] ?? '')?.[1])
      .filter((t) => t !== undefined)
    expect(listed.sort()).toEqual(
      builtinHandlers({ sandboxDir: '/nonexistent' })
        .map((h) => h.type)
        .sort(),
    )
  })
})

/** Values tried, in order, until one is accepted and changes the config (one fits each kind of setting). */
const SAMPLE_VALUES = [
  '7',
  'true',
  'postgres://docs@127.0.0.1:1/docs',
  'a-token-of-at-least-sixteen-characters',
  'debug',
  'json',
  '/elsewhere',
  '10.0.0.0/8',
  'off',
]

interface CodeSetting {
  env: string
  flag?: string
}

/**
 * The settings as src/config.ts lists them: `allSettings()` where the config is one settings table,
 * else the `ENVIRONMENT` list that --help prints. Read from the code, never copied here.
 */
function settingsInCode(): CodeSetting[] {
  const mod = configModule as unknown as {
    allSettings?: () => { env: string; flag: string }[]
    ENVIRONMENT?: readonly (readonly [string, string])[]
  }
  if (typeof mod.allSettings === 'function') return mod.allSettings().map(({ env, flag }) => ({ env, flag }))
  if (mod.ENVIRONMENT) return mod.ENVIRONMENT.map(([env]) => ({ env }))
  throw new Error('src/config.ts exports neither allSettings() nor ENVIRONMENT')
}

function settingsTableRows(markdown: string): { env: string; flag: string }[] {
  const block = markedBlock(markdown, 'settings')
  if (block === undefined) throw new Error('docs/configuration.md has no settings:start/settings:end markers')
  return tableRows(block)
    .filter((cells) => /^`[A-Z_]+`$/.test(cells[0] ?? ''))
    .map((cells) => ({
      env: cells[0]!.slice(1, -1),
      flag: /^`--([a-z0-9-]+)/.exec(cells[1] ?? '')?.[1] ?? `(no flag in "${cells[1]}")`,
    }))
}

/** The text from a heading to the next heading of the same or a higher level. */
function sectionOf(markdown: string, heading: string): string {
  const level = heading.indexOf(' ')
  const start = markdown.indexOf(`\n${heading}\n`)
  if (start === -1) throw new Error(`no "${heading}" section`)
  const rest = markdown.slice(start + heading.length + 2)
  const next = rest.search(new RegExp(`^#{1,${level}} `, 'm'))
  return next === -1 ? rest : rest.slice(0, next)
}

/** Relative link targets (links and images) outside code; web addresses are not checked. */
function linksOf(markdown: string): string[] {
  const prose = proseOf(markdown).replace(/`[^`\n]*`/g, '')
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
}

/** GitHub's anchors: the heading in lower case, punctuation dropped, spaces as dashes, repeats numbered. */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>()
  const seen = new Map<string, number>()
  for (const m of proseOf(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    slugs.add(n === 0 ? base : `${base}-${n}`)
  }
  return slugs
}

test('headingSlugs follows GitHub', () => {
  expect([
    ...headingSlugs('# HTTP API (`/api/v1`)\n## No PostgreSQL? The embedded database\n## A\n## A\n'),
  ]).toEqual(['http-api-apiv1', 'no-postgresql-the-embedded-database', 'a', 'a-1'])
})
