// Who the PostgreSQL programs run as. As a normal user: that user. As root (containers, CI), where
// PostgreSQL refuses to run, one of two ways, chosen once per process:
//
// 1. A user namespace (`unshare --user`, util-linux): inside it the server is uid 65534, not root,
//    so it starts; that uid maps to root outside, so the files root owns appear as the server's
//    own, and a data dir under root's 0700 home stays reachable (a plain `nobody` could not even
//    enter /root). Preferred: nothing on disk changes owner.
// 2. Where user namespaces are not allowed (a container's default seccomp profile, no unshare):
//    plain uid/gid 65534 (`nobody`). The data dir is handed to that user, and every folder above
//    it must let others pass (not /root, mode 0700): tasklab says so in a sentence otherwise.
import { chownSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Subprocess } from 'bun'
import { type PgInstall, pgProgram } from './pg-binaries'

const SERVER_UID = 65534

export interface ServerUser {
  /** Put before the command: the unshare invocation, or nothing. */
  prefix: string[]
  /** Set when the programs run as another user directly (way 2). */
  uid?: number
  /** For messages and logs. */
  how: string
}

let chosen: ServerUser | undefined

/** Decides how to run the server programs and, for way 2, hands `dirs` (made by root) to that user. */
export function serverUser(install: PgInstall, dataDir: string, dirs: string[]): ServerUser {
  chosen ??= choose(install, dataDir)
  if (chosen.uid !== undefined) for (const d of dirs) handOver(d, chosen.uid)
  return chosen
}

function choose(install: PgInstall, dataDir: string): ServerUser {
  if (process.platform === 'win32' || process.getuid?.() !== 0) return { prefix: [], how: 'this user' }
  const unshare = Bun.which('unshare')
  const prefix = unshare
    ? [unshare, '--user', `--map-user=${SERVER_UID}`, `--map-group=${SERVER_UID}`, '--']
    : []
  if (unshare && Bun.spawnSync([...prefix, pgProgram(install, 'postgres'), '--version']).exitCode === 0)
    return { prefix, how: `uid ${SERVER_UID} in a user namespace (root outside)` }
  // The data dir itself is handed over; what lies above it (and the programs, when they live
  // elsewhere) must let others pass.
  const paths = install.root.startsWith(`${dataDir}/`) ? [dataDir] : [dataDir, install.root]
  for (const path of paths) {
    const closed = closedAncestor(path)
    if (closed)
      throw new Error(
        `tasklab runs as root, and PostgreSQL refuses to; user namespaces are not available here ` +
          `(${unshare ? 'unshare --user failed' : 'no unshare program'}), so the server would run as uid ${SERVER_UID}, ` +
          `which cannot enter ${closed}. Give a --data-dir (and keep tasklab) outside it, run tasklab as a ` +
          'normal user, or set DATABASE_URL to use your own PostgreSQL.',
      )
  }
  return { prefix: [], uid: SERVER_UID, how: `uid ${SERVER_UID} (no user namespaces here)` }
}

/** The highest folder above `path` that other users may not pass through (e.g. /root). */
function closedAncestor(path: string): string | undefined {
  let closed: string | undefined
  for (let d = dirname(path); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) closed = d
    if (d === dirname(d)) return closed
  }
}

/** chown -R, skipping what already belongs to `uid` (a cluster initdb made as that user). */
function handOver(path: string, uid: number): void {
  let st: ReturnType<typeof statSync>
  try {
    st = statSync(path)
  } catch {
    return
  }
  if (st.uid === uid) return
  chownSync(path, uid, uid)
  if (st.isDirectory()) for (const name of readdirSync(path)) handOver(join(path, name), uid)
}

export function spawnAs(
  user: ServerUser,
  cmd: string[],
  opts: { stdout: number; stderr: number; detached?: boolean },
): Subprocess {
  return Bun.spawn([...user.prefix, ...cmd], {
    stdin: 'ignore',
    ...opts,
    ...(user.uid !== undefined && { uid: user.uid, gid: user.uid }),
  })
}
