// Handler modules as the worker sees them: one TaskHandler per type that always runs the newest
// loaded version of its module. The worker keeps the same object for its whole life, so reloading
// an edited module needs nothing from the worker: the next attempt simply runs the new code.
import { type FSWatcher, watch } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import type { TSchema } from '@sinclair/typebox'
import type { Logger } from '../../log'
import type { TypeDefinition } from '../../queue/registry'
import { type HandlerContext, PermanentError, type TaskHandler } from '../contract'
import { HandlerModuleError, importModule, type LoadedModule, type ModuleHandler, moduleFiles } from './load'

interface Slot {
  type: string
  file: string
  version: number
  loadedAt: Date
  current: ModuleHandler
  /** Versions that have run at least once (each is announced in the log on its first run). */
  announced: number
}

// One object, so the compiled check is cached once (contract.ts keys its cache by schema object).
const ANY_PAYLOAD = { type: 'object' }

export class HandlerModules {
  private readonly slots = new Map<string, Slot>()
  private readonly versions = new Map<string, number>()
  private watcher: FSWatcher | undefined
  private readonly pending = new Map<string, Timer>()

  private readonly path: string

  constructor(
    path: string,
    private readonly builtins: ReadonlySet<string>,
    private readonly log: Logger,
  ) {
    this.path = resolve(path)
  }

  /** Loads every module; throws HandlerModuleError (one sentence naming the file) on the first problem. */
  async load(): Promise<TaskHandler[]> {
    for (const file of moduleFiles(this.path)) {
      const mod = await importModule(file, this.nextVersion(file), this.builtins)
      for (const h of mod.handlers) {
        const other = this.slots.get(h.type)
        if (other)
          throw new HandlerModuleError(
            `The handler module ${file} exports the type "${h.type}", which ${other.file} exports too.`,
          )
        this.slots.set(h.type, this.slot(h, file))
      }
    }
    return [...this.slots.values()].map((s) => this.taskHandler(s))
  }

  /**
   * Reloads a module when its file changes (start only). A module that no longer loads is logged
   * and the previous version keeps running; `onChange` gets the types whose definition changed so
   * the registry (and the schema checked at creation) follows the code.
   */
  watch(onChange: (defs: TypeDefinition[]) => Promise<void>): () => void {
    const files = new Set(moduleFiles(this.path))
    const single = files.size === 1 && [...files][0] === this.path ? this.path : undefined
    // Watch the folder, not the file: editors save by writing a new file and renaming it over the
    // old one, after which a watch on the old file sees nothing more.
    const dir = single ? dirname(single) : this.path
    this.watcher = watch(dir, (_event, name) => {
      if (!name) return
      const file = join(dir, name)
      if (single ? file !== single : !files.has(file)) return
      // Saving fires several events (truncate, write, rename); one reload after they settle.
      clearTimeout(this.pending.get(file))
      this.pending.set(
        file,
        setTimeout(() => void this.reload(file, onChange), 100),
      )
    })
    return () => {
      this.watcher?.close()
      for (const t of this.pending.values()) clearTimeout(t)
    }
  }

  private async reload(file: string, onChange: (defs: TypeDefinition[]) => Promise<void>): Promise<void> {
    const version = this.nextVersion(file)
    let mod: LoadedModule
    try {
      mod = await importModule(file, version, this.builtins)
    } catch (err) {
      this.log.error(
        `${err instanceof Error ? err.message : String(err)} The previous version keeps running.`,
        { file },
      )
      return
    }
    const changed: TypeDefinition[] = []
    for (const h of mod.handlers) {
      const slot = this.slots.get(h.type)
      if (!slot || slot.file !== file) {
        this.log.warn(
          `handler module ${basename(file)} adds the type "${h.type}"; restart tasklab to run it (a worker's types are fixed at start)`,
        )
        continue
      }
      // Two quick saves: an older import finishing last must not replace the newer one.
      if (slot.version > version) continue
      Object.assign(slot, { current: h, version, loadedAt: new Date() })
      changed.push(definition(h))
    }
    this.log.info(`handler module reloaded: ${file} (version ${version})`, {
      types: mod.handlers.map((h) => h.type).join(','),
    })
    if (changed.length > 0)
      await onChange(changed).catch((err) =>
        this.log.warn('the reloaded schema could not be registered; creation checks the previous one', {
          file,
          error: err,
        }),
      )
  }

  private nextVersion(file: string): number {
    const v = (this.versions.get(file) ?? 0) + 1
    this.versions.set(file, v)
    return v
  }

  private slot(h: ModuleHandler, file: string): Slot {
    return {
      type: h.type,
      file,
      version: this.versions.get(file) ?? 1,
      loadedAt: new Date(),
      current: h,
      announced: 0,
    }
  }

  private taskHandler(slot: Slot): TaskHandler {
    return {
      type: slot.type,
      get description() {
        return slot.current.description ?? `handler module ${basename(slot.file)}`
      },
      get schema() {
        return (slot.current.schema ?? ANY_PAYLOAD) as TSchema
      },
      // Undefined when the module gives none: the panel then builds a payload from the schema.
      get example() {
        return slot.current.example
      },
      get timeoutMs() {
        return slot.current.timeoutMs
      },
      run: (payload, ctx) => this.run(slot, payload, ctx),
    }
  }

  private async run(slot: Slot, payload: unknown, ctx: HandlerContext): Promise<unknown> {
    const { current, version } = slot
    const where = { file: slot.file, version, loaded_at: slot.loadedAt.toISOString() }
    if (slot.announced < version) {
      slot.announced = version
      ctx.log.info(`running ${slot.type} from handler module version ${version}`, where)
    } else ctx.log.debug(`running ${slot.type} from handler module version ${version}`, where)
    let result: unknown
    try {
      result = await (current.run as (p: unknown, c: unknown) => unknown)(payload, {
        signal: ctx.signal,
        attempt: ctx.attempt,
        maxAttempts: ctx.maxAttempts,
        taskId: ctx.id,
        taskType: ctx.taskType,
        metadata: ctx.metadata,
        log: ctx.log,
      })
    } catch (err) {
      if (err && typeof err === 'object' && (err as { permanent?: unknown }).permanent === true)
        throw new PermanentError(err instanceof Error ? err.message : String(err))
      throw err
    }
    // What the result may hold is judged where every handler's is (cleanResult in
    // worker/execute.ts): text cleaned, a result JSON or PostgreSQL cannot hold a permanent failure.
    return result ?? null
  }
}

export function definition(h: ModuleHandler): TypeDefinition {
  return {
    name: h.type,
    description: h.description ?? '',
    payload_schema: h.schema ? JSON.parse(JSON.stringify(h.schema)) : null,
    example_payload: h.example ?? null,
  }
}
