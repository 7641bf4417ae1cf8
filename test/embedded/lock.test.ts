// One process per embedded data directory: a live holder is refused with a sentence naming it and
// the ways out; a holder that died is taken over.
import { afterAll, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataDirLockedError, lockDataDir } from '../../src/db/datadir-lock'

const dirs: string[] = []
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'tasklab-lock-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

test('a second lock on the same dir is refused while the first is held, and allowed after release', () => {
  const dir = fresh()
  const first = lockDataDir(dir)
  expect(() => lockDataDir(dir)).toThrow(DataDirLockedError)
  try {
    lockDataDir(dir)
  } catch (err) {
    const msg = (err as Error).message
    expect(msg).toContain(`The embedded database at ${dir} is in use by another tasklab (pid ${process.pid}`)
    expect(msg).toContain('--data-dir')
    expect(msg).toContain('DATABASE_URL')
  }
  first.release()
  expect(existsSync(first.file)).toBe(false)
  lockDataDir(dir).release()
})

test('a lock left by a live process on this host is respected; one left by a dead process is taken over', async () => {
  const dir = fresh()
  const file = join(dir, 'tasklab.lock')
  const sleeper = Bun.spawn(['sleep', '30'])
  try {
    writeFileSync(file, JSON.stringify({ pid: sleeper.pid, host: hostname(), started: 'then' }))
    expect(() => lockDataDir(dir)).toThrow(`pid ${sleeper.pid}`)
  } finally {
    sleeper.kill('SIGKILL')
    await sleeper.exited
  }
  const lock = lockDataDir(dir)
  expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid)
  lock.release()
})

test('a lock held from another host (shared disk) is respected: its pid cannot be checked from here', () => {
  const dir = fresh()
  writeFileSync(
    join(dir, 'tasklab.lock'),
    JSON.stringify({ pid: 1, host: 'elsewhere.example', started: 'then' }),
  )
  expect(() => lockDataDir(dir)).toThrow(DataDirLockedError)
})
