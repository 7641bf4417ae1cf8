// The compiled binary copied alone into an empty folder and started as a server on a free port,
// with a small JSON client and a logged-in user: for the tests of handler modules and remote
// workers, which must hold for the binary a user downloads, not only for the sources.
import { chmod, copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AnswerOf } from './answer-types'
import { type Child, compiledBinary, spawnTasklab, tail, tempDir, waitFor } from './proc'

export interface BinaryServer {
  child: Child
  dir: string
  bin: string
  /** http://127.0.0.1:<port>/api/v1 */
  api: string
  userToken: string
  /** `path` under /api/v1; the body is typed from the OpenAPI document for this method and path. */
  call<M extends string, P extends string>(
    method: M,
    path: P,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: AnswerOf<M, `/api/v1${P}`> }>
  stop(): Promise<void>
}

/** Copies the binary alone into a new temp folder; returns its path. */
export async function lonelyBinary(prefix: string): Promise<{ dir: string; bin: string }> {
  const dir = await tempDir(prefix)
  const bin = join(dir, 'tasklab')
  await copyFile(await compiledBinary(), bin)
  await chmod(bin, 0o755)
  return { dir, bin }
}

/** Runs the lonely binary with only system folders on PATH (no bun, no node_modules). */
export function runBinary(bin: string, dir: string, args: string[], env: Record<string, string> = {}): Child {
  return spawnTasklab(args, {
    command: [bin],
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', HOME: dir, STARTER__DATA_DIR: join(dir, 'data'), ...env },
  })
}

export async function startBinaryServer(
  prefix: string,
  args: string[],
  env: Record<string, string>,
): Promise<BinaryServer> {
  const { dir, bin } = await lonelyBinary(prefix)
  const child = runBinary(bin, dir, ['start', '--port', '0', ...args], env)
  const api = await waitFor(
    'the server to print its API address',
    () => {
      if (child.hasExited()) throw new Error(`tasklab start exited\n${tail(child.output())}`)
      return child.output().match(/API: (http:\/\/\S+\/api\/v1)/)?.[1]
    },
    { timeoutMs: 30_000, detail: () => tail(child.output()) },
  )
  const call: BinaryServer['call'] = async <M extends string, P extends string>(
    method: M,
    path: P,
    body?: unknown,
    token?: string,
  ) => {
    const headers: Record<string, string> = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(`${api}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as AnswerOf<M, `/api/v1${P}`> }
  }
  const user = { username: 'dev', email: 'dev@example.com', password: 'a-long-password' }
  await call('POST', '/auth/register', user)
  const login = await call('POST', '/auth/login', { username: user.username, password: user.password })
  if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`)
  return {
    child,
    dir,
    bin,
    api,
    userToken: login.body.data.session_token,
    call,
    async stop() {
      child.proc.kill('SIGTERM')
      await child.waitExit(20_000).catch(() => child.proc.kill('SIGKILL'))
    },
  }
}
