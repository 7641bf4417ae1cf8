// `tasklab init-handler <type>`: the published handler contract. It writes the typed contract
// (tasklab-handler.d.ts, embedded in the binary) and a complete example module beside it, so a
// developer starts from code that an editor completes and that already retries, honours its
// signal and reports a permanent error.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ConfigError, type Flags } from '../../config'
import { TYPE_NAME } from '../../queue/registry'
import { BUILTIN_TYPES } from '../index'
// biome-ignore lint/suspicious/noTsIgnore: TS2846 forbids importing a .d.ts as a value, but Bun embeds it as text
// @ts-ignore
import contract from './tasklab-handler.d.ts' with { type: 'text' }

export const CONTRACT_FILE = 'tasklab-handler.d.ts'

export function exampleModule(type: string): string {
  return `// A tasklab handler module: run it with  tasklab start --handlers ${type}.ts
// It fetches a page and counts its words. A 5xx or a network error is thrown as is, so the attempt
// is retried by the task's retry strategy; a 4xx will never succeed, so it fails permanently;
// ctx.signal (timeout or cancel) is passed to fetch, which then stops at once.
import type { Handler } from './tasklab-handler'

interface Payload {
  url: string
  /** Fail (and retry) when the page has fewer words than this. */
  min_words?: number
}

class PermanentError extends Error {
  readonly permanent = true
}

const handler: Handler<Payload> = {
  type: '${type}',
  description: 'Fetch a page and count its words',
  schema: {
    type: 'object',
    required: ['url'],
    properties: {
      url: { type: 'string', pattern: '^https?://' },
      min_words: { type: 'integer', minimum: 0 },
    },
    additionalProperties: false,
  },
  example: { url: 'https://example.com/' },
  timeoutMs: 10_000,
  async run(payload, ctx) {
    ctx.log.info('fetching', { url: payload.url, attempt: ctx.attempt })
    const res = await fetch(payload.url, { signal: ctx.signal })
    if (res.status >= 400 && res.status < 500)
      throw new PermanentError(\`\${payload.url} answered \${res.status}; retrying will not help\`)
    if (!res.ok) throw new Error(\`\${payload.url} answered \${res.status}\`)
    const words = (await res.text()).split(/\\s+/).filter(Boolean).length
    if (words < (payload.min_words ?? 0)) throw new Error(\`only \${words} words so far\`)
    return { url: payload.url, words, attempt: ctx.attempt }
  },
}

export default handler
`
}

export function initHandler(positional: string[], flags: Flags): number {
  const [type, extra] = positional
  if (!type) throw new ConfigError('Name the task type: tasklab init-handler <type> [--dir DIR].')
  if (extra) throw new ConfigError(`Unexpected argument "${extra}"; see tasklab init-handler --help.`)
  if (!TYPE_NAME.test(type))
    throw new ConfigError(
      `The type "${type.slice(0, 80)}" must be 1-63 lowercase letters, digits or underscores, starting with a letter.`,
    )
  if (BUILTIN_TYPES.includes(type))
    throw new ConfigError(`"${type}" is a built-in task type; choose another name.`)
  const dir = resolve(typeof flags.dir === 'string' ? flags.dir : '.')
  const file = join(dir, `${type}.ts`)
  if (existsSync(file)) throw new ConfigError(`${file} exists already; it is left as it is.`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, CONTRACT_FILE), contract as string)
  writeFileSync(file, exampleModule(type))
  process.stdout.write(
    `wrote ${file} and ${join(dir, CONTRACT_FILE)}\nrun it: tasklab start --handlers ${file}\n`,
  )
  return 0
}
