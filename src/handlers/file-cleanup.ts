import { lstat, mkdir, readdir, realpath, rm } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { Type } from '@sinclair/typebox'
import { defineHandler, PermanentError } from './contract'

/**
 * Really deletes files older than max_age_hours below file_path, which must lie inside the
 * configured sandbox folder (STARTER__HANDLERS__SANDBOX_DIR). Paths are resolved through symlinks
 * before the check, and links met while walking are removed as links, never followed, so nothing
 * outside the sandbox can be reached.
 */
function inside(root: string, path: string): boolean {
  const rel = relative(root, path)
  return !(rel.startsWith('..') || isAbsolute(rel) || rel.split(sep)[0] === '..')
}

export function fileCleanup(sandboxDir: string) {
  return defineHandler({
    type: 'file_cleanup',
    description: `Deletes files older than max_age_hours under file_path, only inside the sandbox folder ${sandboxDir}`,
    schema: Type.Object({
      file_path: Type.String({ minLength: 1, maxLength: 4096 }),
      max_age_hours: Type.Number({ minimum: 0, maximum: 1_000_000 }),
      dry_run: Type.Optional(Type.Boolean()),
    }),
    example: { file_path: sandboxDir, max_age_hours: 24 },
    async run(p, ctx) {
      await mkdir(sandboxDir, { recursive: true })
      const root = await realpath(sandboxDir)
      const given = resolve(sandboxDir)
      // The sandbox check comes first and looks only at the path as written: running realpath on
      // a path outside the sandbox told which paths exist there ("does not exist" vs "outside"),
      // and made the check depend on where TMPDIR points (issue 12, item 9).
      const wanted = isAbsolute(p.file_path) ? resolve(p.file_path) : resolve(root, p.file_path)
      const outside = () =>
        new PermanentError(
          `Invalid payload: payload.file_path: ${p.file_path} is outside the sandbox folder ${root}`,
        )
      if (!inside(given, wanted) && !inside(root, wanted)) throw outside()
      let target: string
      try {
        target = await realpath(wanted)
      } catch {
        throw new PermanentError(`Invalid payload: payload.file_path: ${p.file_path} does not exist`)
      }
      // Inside as written, but a link in the sandbox may still point out of it.
      if (!inside(root, target)) throw outside()

      const cutoff = Date.now() - p.max_age_hours * 3_600_000
      const deleted: string[] = []
      let kept = 0
      let freedBytes = 0
      const visit = async (path: string): Promise<void> => {
        if (ctx.signal.aborted) throw ctx.signal.reason
        const st = await lstat(path)
        if (st.isDirectory()) {
          for (const name of await readdir(path)) await visit(join(path, name))
          return
        }
        if (st.mtimeMs < cutoff) {
          if (!p.dry_run) await rm(path, { force: true })
          deleted.push(relative(root, path))
          freedBytes += st.size
        } else kept++
      }
      await visit(target)
      return {
        deleted_count: deleted.length,
        deleted: deleted.slice(0, 1000),
        kept,
        freed_bytes: freedBytes,
        dry_run: p.dry_run ?? false,
      }
    },
  })
}
