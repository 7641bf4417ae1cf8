// As root where user namespaces are not available (a container's default seccomp profile, or no
// unshare program), the embedded server runs as uid 65534 directly: the data dir is handed to it,
// and a data dir it cannot reach (under a 0700 folder) is refused with a sentence naming that
// folder. Simulated here with a PATH that has no unshare.
import { afterAll, expect, test } from 'bun:test'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { isAlive, readPostmasterPid } from '../../src/db/pg-process'
import { compiledBinary, spawnTasklab, tempDir, waitFor } from '../helpers/proc'

const asRoot = process.getuid?.() === 0
let top: string | undefined
afterAll(() => {
  if (top) rmSync(top, { recursive: true, force: true })
})

test.skipIf(!asRoot)(
  'without user namespaces, root runs the server as uid 65534, or says which folder blocks it',
  async () => {
    top = await tempDir('no-userns')
    chmodSync(top, 0o755)
    const bin = join(top, 'tasklab')
    copyFileSync(await compiledBinary(), bin)
    chmodSync(bin, 0o755)
    const closed = join(top, 'closed')
    mkdirSync(join(closed, 'home'), { recursive: true })
    chmodSync(closed, 0o700)
    // No unshare on this PATH: the user-namespace way is not available.
    const env = { PATH: '/nonexistent', XDG_DATA_HOME: '' }

    const refused = spawnTasklab(['start', '--port', '0'], {
      command: [bin],
      env: { ...env, HOME: join(closed, 'home') },
    })
    expect(await refused.waitExit(60_000)).toBe(1)
    expect(refused.output()).toContain(`which cannot enter ${closed}.`)
    expect(refused.output()).toContain('--data-dir')

    const dataDir = join(top, 'data')
    const child = spawnTasklab(['start', '--port', '0', '--data-dir', dataDir], {
      command: [bin],
      env: { ...env, HOME: join(top, 'home') },
    })
    await waitFor('the banner', () => child.output().includes('  chaos: '), {
      timeoutMs: 60_000,
      detail: () => child.output(),
    })
    const pm = readPostmasterPid(join(dataDir, 'pgdata'))!
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pm.pid}/status`, 'utf8'))?.[1])
    expect(uid).toBe(65534)
    child.proc.kill('SIGTERM')
    expect(await child.waitExit(30_000)).toBe(0)
    expect(isAlive(pm.pid)).toBe(false)
  },
  120_000,
)
