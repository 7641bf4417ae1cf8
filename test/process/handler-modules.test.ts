// Handler modules run by the compiled binary, copied alone into an empty folder (no node_modules,
// no bun): a TypeScript and a JavaScript module in another folder run their types with results,
// retries, permanent errors, cancel and timeout through ctx.signal; payloads are checked at
// creation; an edited module is reloaded; a broken one stops start with exit 2 and one sentence.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type BinaryServer, lonelyBinary, runBinary, startBinaryServer } from '../helpers/binary-server'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { tempDir, waitFor } from '../helpers/proc'

const TS_MODULE = `import type { Handler } from './tasklab-handler'
import { double } from './lib/double.ts'

interface Job { mode: 'ok' | 'flaky' | 'permanent' | 'wait'; n?: number }

class Permanent extends Error {
  readonly permanent = true
}

const handler: Handler<Job> = {
  type: 'ts_job',
  description: 'a TypeScript module',
  schema: {
    type: 'object',
    required: ['mode'],
    properties: { mode: { enum: ['ok', 'flaky', 'permanent', 'wait'] }, n: { type: 'integer' } },
  },
  async run(payload, ctx) {
    const version: number = 1
    if (payload.mode === 'flaky' && ctx.attempt < 2) throw new Error('flaky: first attempt fails')
    if (payload.mode === 'permanent') throw new Permanent('bad input: retrying cannot help')
    if (payload.mode === 'wait')
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
    ctx.log.info('ts_job done', { attempt: ctx.attempt })
    return { double: double(payload.n ?? 0), attempt: ctx.attempt, taskId: ctx.taskId, version }
  },
}
export default handler
`

const JS_MODULE = `export default [
  {
    type: 'js_job',
    schema: { type: 'object', properties: { n: { type: 'integer' } } },
    run: async (payload, ctx) => ({ triple: (payload.n ?? 0) * 3, attempt: ctx.attempt }),
  },
  {
    type: 'js_wait',
    timeoutMs: 300,
    run: (payload, ctx) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => resolve('too late'), 60_000)
        ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('stopped: ' + ctx.signal.reason.message)) })
      }),
  },
]
`

let db: TestDatabase
let server: BinaryServer
let modules: string

beforeAll(async () => {
  db = await createTestDatabase()
  modules = await tempDir('modules')
  const { dir, bin } = await lonelyBinary('init-handler')
  // The published contract: init-handler writes tasklab-handler.d.ts next to an example.
  const init = runBinary(bin, dir, ['init-handler', 'example_job', '--dir', modules])
  expect(await init.waitExit(20_000)).toBe(0)
  await Bun.$`mkdir -p ${join(modules, 'lib')}`
  await writeFile(join(modules, 'lib', 'double.ts'), 'export const double = (n: number): number => n * 2\n')
  await writeFile(join(modules, 'ts_job.ts'), TS_MODULE)
  await writeFile(join(modules, 'js_job.mjs'), JS_MODULE)
  server = await startBinaryServer('modules-bin', ['--handlers', modules, '--retry-backoff-base-secs', '0'], {
    DATABASE_URL: db.url,
    STARTER__WORKER__LEASE_SECS: '2',
  })
}, 90_000)

afterAll(async () => {
  await server?.stop()
  await db?.drop()
})

async function create(task_type: string, payload: unknown, extra: Record<string, unknown> = {}) {
  const r = await server.call('POST', '/tasks', { task_type, payload, ...extra }, server.userToken)
  expect(r.status).toBe(201)
  return r.body.data.id as string
}

// biome-ignore lint/suspicious/noExplicitAny: test reads arbitrary task JSON
async function settled(id: string): Promise<any> {
  return waitFor(
    `task ${id} to finish`,
    async () => {
      const t = (await server.call('GET', `/tasks/${id}`, undefined, server.userToken)).body.data
      return ['completed', 'failed', 'cancelled'].includes(t.status) ? t : undefined
    },
    { timeoutMs: 20_000, detail: () => server.child.output().slice(-3000) },
  )
}

describe('the binary runs TS and JS modules from another folder', () => {
  test('the binary sits alone in its folder', async () => {
    expect(await readdir(server.dir)).toEqual(expect.arrayContaining(['tasklab']))
    expect((await readdir(server.dir)).filter((f) => f !== 'data')).toEqual(['tasklab'])
  })

  test('types are registered with their schemas and shown as handled by the live worker', async () => {
    const types = (await server.call('GET', '/tasks/types')).body.data
    const byName = new Map(types.map((t: { task_type: string }) => [t.task_type, t]))
    for (const name of ['ts_job', 'js_job', 'js_wait', 'example_job'])
      expect(byName.get(name)).toMatchObject({ is_active: true, workers: { alive: 1 } })
    expect(byName.get('ts_job')).toMatchObject({ description: 'a TypeScript module' })
  })

  test('a TS module returns its result (importing a sibling .ts file)', async () => {
    const t = await settled(await create('ts_job', { mode: 'ok', n: 21 }))
    expect(t).toMatchObject({ status: 'completed', result: { double: 42, attempt: 1, version: 1 } })
    expect(t.result.taskId).toBe(t.id)
  })

  test('a JS module exporting a list returns its result', async () => {
    const t = await settled(await create('js_job', { n: 5 }))
    expect(t).toMatchObject({ status: 'completed', result: { triple: 15, attempt: 1 } })
  })

  test('a throw is retried by the strategy and succeeds on the second attempt', async () => {
    const t = await settled(
      await create('ts_job', { mode: 'flaky' }, { retry_strategy: { type: 'fixed', interval_ms: 50 } }),
    )
    expect(t).toMatchObject({ status: 'completed', current_attempt: 2, result: { attempt: 2 } })
    const events = (await server.call('GET', `/tasks/${t.id}/events`, undefined, server.userToken)).body.data
    expect(events.map((e: { to_status: string }) => e.to_status)).toEqual([
      'pending',
      'running',
      'retrying',
      'running',
      'completed',
    ])
    expect(events[2]?.error).toBe('flaky: first attempt fails')
  })

  test('an error with permanent: true fails the task at once', async () => {
    const t = await settled(await create('ts_job', { mode: 'permanent' }))
    expect(t).toMatchObject({
      status: 'failed',
      current_attempt: 1,
      last_error: 'bad input: retrying cannot help',
    })
  })

  test('a cancel fires ctx.signal and the task ends cancelled', async () => {
    const id = await create('ts_job', { mode: 'wait' })
    await waitFor(
      'the task to run',
      async () =>
        (await server.call('GET', `/tasks/${id}`, undefined, server.userToken)).body.data.status ===
        'running',
      { timeoutMs: 10_000 },
    )
    expect((await server.call('POST', `/tasks/${id}/cancel`, undefined, server.userToken)).status).toBe(200)
    expect(await settled(id)).toMatchObject({ status: 'cancelled' })
  })

  test("the module's timeoutMs fires ctx.signal and the attempt fails as timed out", async () => {
    const t = await settled(await create('js_wait', {}, { max_attempts: 1 }))
    expect(t).toMatchObject({ status: 'failed', last_error: 'timed out after 300 ms' })
  })

  test('a bad payload is a 400 at creation naming the field, and no row is written', async () => {
    const before = (await db.sql`SELECT count(*)::int AS n FROM tasks`)[0]!.n
    const r = await server.call(
      'POST',
      '/tasks',
      { task_type: 'ts_job', payload: { mode: 'dance' } },
      server.userToken,
    )
    expect(r.status).toBe(400)
    expect(r.body.error.details?.field).toBe('payload.mode')
    const b = await server.call(
      'POST',
      '/tasks/batch',
      {
        tasks: [
          { task_type: 'js_job', payload: { n: 1 } },
          { task_type: 'js_job', payload: { n: 'one' } },
        ],
      },
      server.userToken,
    )
    expect(b.status).toBe(400)
    expect(b.body.error.details?.field).toBe('tasks[1].payload.n')
    expect((await db.sql`SELECT count(*)::int AS n FROM tasks`)[0]!.n).toBe(before)
  })

  test('an edited module is reloaded without a restart, and the log says which version ran', async () => {
    const file = join(modules, 'ts_job.ts')
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('const version: number = 1', 'const version: number = 2'),
    )
    await waitFor(
      'the reload to be logged',
      () => server.child.output().includes(`handler module reloaded: ${file}`),
      {
        timeoutMs: 10_000,
      },
    )
    const t = await settled(await create('ts_job', { mode: 'ok', n: 1 }))
    expect(t.result.version).toBe(2)
    expect(server.child.output()).toContain('running ts_job from handler module version 2')
  })
})

test('tasklab worker --handlers runs the modules too (without watching them)', async () => {
  const worker = runBinary(server.bin, server.dir, ['worker', '--id', 'mods', '--handlers', modules], {
    DATABASE_URL: db.url,
  })
  try {
    const types = await waitFor(
      'the worker to register',
      async () => {
        const [row] = await db.sql<{ task_types: string[] }[]>`
          SELECT task_types FROM workers WHERE id LIKE ${'%-w' + 'mods'} AND stopped_at IS NULL`
        return row?.task_types
      },
      { timeoutMs: 20_000, detail: () => worker.output() },
    )
    expect(types).toEqual(expect.arrayContaining(['ts_job', 'js_job', 'js_wait', 'example_job', 'email']))
  } finally {
    worker.proc.kill('SIGTERM')
    expect(await worker.waitExit(20_000)).toBe(0)
  }
  expect(worker.output()).not.toContain('handler module reloaded')
}, 40_000)

describe('a module that cannot run stops start with exit 2 and one sentence naming the file', () => {
  test.each([
    ['broken.ts', 'export default { type: "x", run: (', 'failed to load'],
    ['empty.ts', 'export const answer = 42\n', 'exports no handler'],
    ['builtin.ts', 'export default { type: "email", run: () => 1 }\n', '"email" is a built-in task type'],
    ['nameless.js', 'export default { type: "Bad Name", run: () => 1 }\n', 'must be 1-63 lowercase'],
  ])('%s', async (name, source, problem) => {
    const dir = await tempDir('bad-module')
    const file = join(dir, name)
    await writeFile(file, source)
    const child = runBinary(server.bin, server.dir, ['start', '--port', '0', '--handlers', file], {
      DATABASE_URL: db.url,
    })
    expect(await child.waitExit(20_000)).toBe(2)
    const lines = child.output().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(file)
    expect(lines[0]).toContain(problem)
  })
})

test("init-handler's example and the one in docs/handlers.md type-check against the contract", async () => {
  const docs = await readFile('docs/handlers.md', 'utf8')
  const example = docs.match(/```ts\n(import type \{ Handler \} from '\.\/tasklab-handler'[\s\S]*?)```/)?.[1]
  expect(example).toBeDefined()
  await writeFile(
    join(modules, 'lib', 'thumbnail.ts'),
    example!.replace("'./tasklab-handler'", "'../tasklab-handler'"),
  )
  const tsc = Bun.spawn(
    [
      'node_modules/.bin/tsc',
      '--noEmit',
      '--strict',
      '--target',
      'esnext',
      '--module',
      'esnext',
      '--moduleResolution',
      'bundler',
      '--lib',
      'esnext,dom',
      '--allowImportingTsExtensions',
      join(modules, 'example_job.ts'),
      join(modules, 'ts_job.ts'),
      join(modules, 'lib', 'thumbnail.ts'),
    ],
    { stdout: 'pipe', stderr: 'pipe' },
  )
  const code = await tsc.exited
  expect({ code, out: await new Response(tsc.stdout).text() }).toEqual({ code: 0, out: '' })
}, 30_000)
