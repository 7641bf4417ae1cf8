// Finds and imports handler modules at run time. The compiled binary carries Bun's transpiler, so
// `await import('/abs/path/handler.ts')` runs TypeScript from disk with no node_modules next to the
// binary and no rebuild. Every problem is one sentence naming the file; at start-up it exits 2.
import { readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ConfigError } from '../../config'
import { compilePayloadSchema } from '../../queue/json-schema'
import { TYPE_NAME } from '../../queue/registry'
import { TIMEOUT_MS_LIMIT } from '../../shared/task-input'
import type { Handler } from './tasklab-handler'

export class HandlerModuleError extends ConfigError {
  override name = 'HandlerModuleError'
}

/** A handler as a module exports it, checked. `run` takes the payload its schema describes. */
export type ModuleHandler = Handler<never>

export interface LoadedModule {
  file: string
  handlers: ModuleHandler[]
}

const MODULE_FILE = /\.(ts|mts|js|mjs)$/

/** The module files a --handlers value names: the file itself, or a folder's .ts/.js files (not nested). */
export function moduleFiles(path: string): string[] {
  const abs = resolve(path)
  let stat: ReturnType<typeof statSync>
  try {
    stat = statSync(abs)
  } catch {
    throw new HandlerModuleError(`The handlers path ${abs} does not exist.`)
  }
  if (!stat.isDirectory()) {
    if (!MODULE_FILE.test(abs) || abs.endsWith('.d.ts'))
      throw new HandlerModuleError(`The handler module ${abs} must be a .ts, .mts, .js or .mjs file.`)
    return [abs]
  }
  const files = readdirSync(abs)
    .filter((f) => MODULE_FILE.test(f) && !f.endsWith('.d.ts') && !f.startsWith('.'))
    .sort()
    .map((f) => join(abs, f))
  if (files.length === 0)
    throw new HandlerModuleError(`The handlers folder ${abs} holds no .ts or .js module.`)
  return files
}

// Every import gets its own query string: the import cache is per process and keyed by the URL.
let imports = 0

/**
 * Imports one module. The query busts the import cache, so an edited file is read again; the
 * previous version stays in memory (a dev-time cost of a few KiB per edit).
 */
export async function importModule(
  file: string,
  version: number,
  builtins: ReadonlySet<string>,
): Promise<LoadedModule> {
  let exports: Record<string, unknown>
  try {
    exports = await import(`${file}?v=${version}.${++imports}`)
  } catch (err) {
    throw new HandlerModuleError(`The handler module ${file} failed to load: ${firstLine(err)}.`)
  }
  const found = new Set<unknown>()
  const take = (v: unknown) => {
    if (Array.isArray(v)) for (const x of v) take(x)
    else if (v && typeof v === 'object' && 'run' in v && 'type' in v) found.add(v)
  }
  take(exports.default)
  for (const [name, v] of Object.entries(exports)) if (name !== 'default') take(v)
  if (found.size === 0)
    throw new HandlerModuleError(
      `The handler module ${file} exports no handler: export default { type, run } (or a list of them).`,
    )
  const handlers = [...found].map((h) => checkHandler(file, h as Record<string, unknown>, builtins))
  const seen = new Set<string>()
  for (const h of handlers) {
    if (seen.has(h.type))
      throw new HandlerModuleError(`The handler module ${file} exports the type "${h.type}" twice.`)
    seen.add(h.type)
  }
  return { file, handlers }
}

function checkHandler(
  file: string,
  h: Record<string, unknown>,
  builtins: ReadonlySet<string>,
): ModuleHandler {
  const bad = (what: string) => new HandlerModuleError(`The handler module ${file}: ${what}.`)
  const type = h.type
  if (typeof type !== 'string' || !TYPE_NAME.test(type))
    throw bad(
      `type ${JSON.stringify(type)?.slice(0, 80)} must be 1-63 lowercase letters, digits or underscores, starting with a letter`,
    )
  if (builtins.has(type)) throw bad(`"${type}" is a built-in task type; give the handler another name`)
  if (typeof h.run !== 'function') throw bad(`handler "${type}" has no run(payload, ctx) function`)
  if (h.description !== undefined && typeof h.description !== 'string')
    throw bad(`the description of "${type}" must be a string`)
  const t = h.timeoutMs
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > TIMEOUT_MS_LIMIT))
    throw bad(`timeoutMs of "${type}" must be a whole number of milliseconds from 1 to ${TIMEOUT_MS_LIMIT}`)
  if (h.schema !== undefined)
    try {
      compilePayloadSchema(JSON.parse(JSON.stringify(h.schema)))
    } catch (err) {
      throw bad(`the schema of "${type}" is ${firstLine(err)}`)
    }
  return h as unknown as ModuleHandler
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.split('\n')[0]!.replace(/\.$/, '')
}
