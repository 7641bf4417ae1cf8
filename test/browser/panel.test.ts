// The control panel in real headless Chromium against the compiled binary on a random port with a
// fresh database: log in (password and the one-time admin link), create a task from the form and
// watch it complete live, read its attempts, dead-letter a failing email and retry it from the dead
// letter view, filter by status through the URL, pause a type and see its tasks wait — with no
// console error anywhere. Screenshots of the overview, a task's detail and the dead letter view go
// to test-results/screenshots/ (ignored by git); UPDATE_SCREENSHOTS=1 refreshes the README's copies
// in docs/screenshots/ instead, so a test run never leaves the tree changed.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, watchedPage } from '../helpers/chromium'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { type Child, compiledBinary, spawnTasklab, tail, tempDir, waitFor } from '../helpers/proc'

const SHOTS = resolve(
  process.env.UPDATE_SCREENSHOTS === '1' ? 'docs/screenshots' : 'test-results/screenshots',
)
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

let db: TestDatabase
let server: Child
let browser: Browser
let page: Page
let base = ''
let loginLink = ''
const problems: string[] = []
/** The panel's reads of GET /metrics (none: its latency chart reads the event stream). */
let metricsReads = 0

interface Task {
  id: string
  status: string
}

beforeAll(async () => {
  const [database, bin, dir] = await Promise.all([createTestDatabase(), compiledBinary(), tempDir('panel')])
  db = database
  server = spawnTasklab(['start', '--chaos'], {
    command: [bin],
    cwd: dir,
    label: 'start (panel test)',
    env: {
      DATABASE_URL: db.url,
      STARTER__SERVER__PORT: '0',
      STARTER__DATA_DIR: dir,
      STARTER__LOG__FORMAT: 'json',
    },
  })
  loginLink = await waitFor(
    'the start-up banner with the admin login link',
    () => /(http:\/\/\S+\/\?login=\S+)/.exec(server.output())?.[1],
    {
      timeoutMs: 30_000,
      detail: () => tail(server.output()),
    },
  )
  base = new URL(loginLink).origin
  await mkdir(SHOTS, { recursive: true })
  browser = await launchChromium()
  page = await watchedPage(browser, problems)
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/v1/metrics') metricsReads++
  })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  if (server) {
    server.proc.kill('SIGTERM')
    await server.waitExit(15_000).catch(() => server.proc.kill('SIGKILL'))
  }
  await db?.drop()
}, 30_000)

/** The public API with the token the panel holds: the test checks what the panel did. */
async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = await page.evaluate(() => localStorage.getItem('tasklab.token'))
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const json = (await res.json()) as { data: T }
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`)
  return json.data
}

const task = (id: string) => api<Task>('GET', `/tasks/${id}`)

/** Clicks a link in the side navigation: a client-side move, never a reload. */
async function nav(label: string): Promise<void> {
  await page.locator('.side nav a', { hasText: new RegExp(`^${label}`) }).click()
}

async function createFromForm(
  type: string,
  payload: unknown,
  opts: { maxAttempts?: number; fixedRetryMs?: number } = {},
): Promise<string> {
  await nav('New task')
  await page.locator('select[name=task_type]').selectOption(type)
  await page.locator('textarea[name=payload]').fill(JSON.stringify(payload))
  if (opts.maxAttempts) await page.locator('input[name=max_attempts]').fill(String(opts.maxAttempts))
  if (opts.fixedRetryMs !== undefined) {
    await page.getByLabel('Set a retry strategy').check()
    await page.locator('select[name=strategy_type]').selectOption('fixed')
    await page.getByLabel('Interval (ms)').fill(String(opts.fixedRetryMs))
  }
  await page.getByRole('button', { name: 'Create task' }).click()
  await page.waitForURL(new RegExp(`/tasks/${UUID}$`))
  return new URL(page.url()).pathname.split('/').pop()!
}

test('the binary serves the panel on / and its client routes, while /api/* stays JSON', async () => {
  for (const path of [
    '/',
    '/tasks',
    '/tasks/new',
    `/tasks/${crypto.randomUUID()}`,
    '/dead-letter',
    '/types',
  ]) {
    const res = await fetch(base + path)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
  }
  for (const path of ['/api', '/api/nope', '/api/v1/nope', '/missing.js', '/a/b/c']) {
    const res = await fetch(base + path)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
  }
  const html = await (await fetch(base)).text()
  const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!)
  expect(assets.length).toBe(2)
  for (const a of assets) {
    const res = await fetch(base + a, { headers: { 'accept-encoding': 'gzip' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toContain('immutable')
    const again = await fetch(base + a, { headers: { 'if-none-match': res.headers.get('etag')! } })
    expect(again.status).toBe(304)
  }
}, 30_000)

test('logs in with a password, and with the one-time admin link', async () => {
  const res = await fetch(`${base}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      username: 'learner',
      email: 'learner@example.com',
      password: 'correct horse battery',
    }),
  })
  expect(res.status).toBe(201)

  await page.goto(base)
  await page.getByLabel('Username or email').fill('learner@example.com')
  await page.getByLabel('Password').fill('correct horse battery')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.locator('.who').textContent()).resolves.toContain('learner')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('button', { name: 'Sign in' }).waitFor()

  await page.goto(loginLink)
  // The link is spent: the panel asks the admin, by name, for a password before anything else.
  const form = page.locator('[data-set-password]')
  await expect(form.textContent()).resolves.toContain('signed in as admin')
  // The token leaves the address bar at once, so a reload or a shared screenshot cannot replay it.
  // (Playwright learns of history.replaceState through an event: wait for it rather than race it.)
  await page.waitForURL((u) => !u.searchParams.has('login'))
  await page.getByLabel('New password').fill('admin passphrase 123')
  await page.getByLabel('Repeat it').fill('admin passphrase 123')
  await page.getByRole('button', { name: 'Set password' }).click()
  await page.locator('.who', { hasText: 'admin' }).waitFor()
  // Signing out is no longer a dead end: the password signs the admin back in.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('Username or email').fill('admin')
  await page.getByLabel('Password').fill('admin passphrase 123')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('.who', { hasText: 'admin' }).waitFor()

  // First usable page: a full load until the state machine shows its counts.
  const started = performance.now()
  await page.reload()
  await page.locator('.diagram [data-state=completed] .node-count:not([data-count=""])').waitFor()
  console.log(`overview usable ${Math.round(performance.now() - started)} ms after navigation start`)
}, 30_000)

let done = ''
test('creates a task from the form and watches it reach completed on the overview and in the list (a click on the state), without reloading', async () => {
  await page.evaluate(() => {
    ;(window as unknown as { sameDocument: boolean }).sameDocument = true
  })
  done = await createFromForm('email', {
    to: 'ada@example.com',
    subject: 'Welcome',
    body: 'Thanks for signing up',
    latency_ms: 200,
  })
  await nav('Overview')
  await page.waitForFunction(
    () =>
      Number(document.querySelector('[data-state=completed] .node-count')?.getAttribute('data-count')) >= 1,
  )
  // Clicking a state in the diagram opens the list filtered to it.
  await page.locator('.diagram [data-state=completed]').click()
  await page.waitForURL(/\/tasks\?status=completed$/)
  await page.locator(`tr[data-task="${done}"][data-status=completed]`).waitFor()
  expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true)
}, 30_000)

test('opens the task and sees its attempt: worker, start, duration', async () => {
  await page.locator(`tr[data-task="${done}"] a`).click()
  const attempt = page.locator('.attempt[data-outcome=completed]')
  await attempt.waitFor()
  const [worker] = await api<{ id: string }[]>('GET', '/workers')
  const text = await attempt.textContent()
  expect(text).toContain('Attempt 1')
  expect(text).toContain(worker!.id)
  expect(text).toMatch(/\d+ ms|\d+(\.\d)? s/)
}, 30_000)

test('a failing email lands in the dead letter queue and is retried from the dead letter view', async () => {
  const id = await createFromForm(
    'email',
    { to: 'bob@example.com', subject: 'Hi', body: 'this will fail', latency_ms: 50 },
    { maxAttempts: 2, fixedRetryMs: 100 },
  )
  await page.locator(`.detail[data-task="${id}"][data-status=failed]`).waitFor({ timeout: 20_000 })
  await expect(page.locator('.attempt').count()).resolves.toBe(2)
  expect(await page.locator('.attempt').first().textContent()).toContain('Email service error')
  await page.screenshot({ path: `${SHOTS}/task-detail.png` })

  // A second kind of failure, permanent this time, so the view has two groups. The payload passes
  // the schema checked at creation; the handler refuses it (min of no numbers).
  const bad = await api<Task[]>('POST', '/tasks/batch', {
    tasks: Array.from({ length: 3 }, () => ({
      task_type: 'data_processing',
      payload: { operation: 'min', data: [] },
    })),
  })
  await waitFor(
    'the bad payloads to fail',
    async () => (await Promise.all(bad.map((b) => task(b.id)))).every((t) => t.status === 'failed'),
    {
      timeoutMs: 10_000,
    },
  )

  await nav('Dead letter')
  const group = page.locator('.dl-group', { has: page.locator('[data-group="Email service error"]') })
  await group.waitFor()
  await page.locator('.dl-group').nth(1).waitFor()
  await group.getByRole('button', { name: 'Show tasks' }).click()
  // The side badge follows the live counts (sent every second); wait for it to agree.
  await page.locator('.side nav .count', { hasText: /^4$/ }).waitFor()
  await page.screenshot({ path: `${SHOTS}/dead-letter.png` })
  await group.getByRole('button', { name: 'Retry 1' }).click()
  const events = await waitFor(
    'the retry to move the task out of failed',
    async () => {
      const list = await api<{ from_status: string | null; to_status: string; actor: string }[]>(
        'GET',
        `/tasks/${id}/events`,
      )
      return list.some((e) => e.from_status === 'failed' && e.to_status === 'pending') && list
    },
    { timeoutMs: 10_000 },
  )
  expect(events.find((e) => e.from_status === 'failed')!.actor).toMatch(/^user:/)
}, 30_000)

test('filters the list by status through the URL', async () => {
  await page.goto(`${base}/tasks?status=completed`)
  await page.locator('tbody tr').first().waitFor()
  const statuses = await page
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')))
  expect(statuses.length).toBeGreaterThan(0)
  expect(new Set(statuses)).toEqual(new Set(['completed']))
  expect(await page.locator('.chip.s-completed').getAttribute('aria-pressed')).toBe('true')
  // Selecting a row pauses the auto-refresh, so the selection does not move under the cursor.
  await page.locator('tbody tr input[type=checkbox]').first().check()
  await page.locator('[data-refresh=paused]').waitFor()
  await page.getByRole('button', { name: 'Clear selection' }).click()
  await page.locator('[data-refresh=live]').waitFor()
  // `/` focuses the search box, whose query goes to the URL as q=.
  await page.keyboard.press('/')
  expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Search tasks')
  // A filter chosen in the page lands in the URL too.
  await page.locator('.chip.s-failed').click()
  await page.waitForURL(/status=completed%2Cfailed|status=completed,failed/)
}, 30_000)

test("the create form starts a custom type's payload from its schema", async () => {
  // As an HTTP worker in another language registers it: a schema, no example.
  await api('POST', '/tasks/types', {
    task_type: 'panel_custom',
    description: 'registered with a schema only',
    payload_schema: {
      type: 'object',
      required: ['sku', 'size', 'quantity'],
      properties: {
        sku: { type: 'string' },
        size: { enum: ['s', 'm', 'l'] },
        quantity: { type: 'integer', minimum: 1 },
        note: { type: 'string' },
      },
    },
  })
  await page.reload()
  await nav('New task')
  await page.locator('select[name=task_type]').selectOption('panel_custom')
  const payload = JSON.parse(await page.locator('textarea[name=payload]').inputValue())
  expect(payload).toEqual({ sku: '', size: 's', quantity: 1 })
  expect(await page.locator('.schema').textContent()).toContain('s | m | l')
})

test('pausing a type makes its tasks wait until it is resumed', async () => {
  await nav('Task types')
  const card = page.locator('.type-card', { has: page.locator('[data-type=delay_task]') })
  await card.getByRole('button', { name: 'Pause' }).click()
  await card.locator('[data-paused=true]').waitFor()

  const waiting = await api<Task>('POST', '/tasks', {
    task_type: 'delay_task',
    payload: { delay_seconds: 0.1 },
  })
  // Proof that the worker is busy claiming: a later task of another type completes first.
  const other = await api<Task>('POST', '/tasks', {
    task_type: 'data_processing',
    payload: { operation: 'sum', data: [1, 2] },
  })
  await waitFor('the other type to complete', async () => (await task(other.id)).status === 'completed', {
    timeoutMs: 10_000,
  })
  expect((await task(waiting.id)).status).toBe('pending')

  await nav('Overview')
  await page.locator('[data-warning="paused-delay_task"]').waitFor()

  await nav('Task types')
  await card.getByRole('button', { name: 'Resume' }).click()
  await waitFor(
    'the paused task to run once resumed',
    async () => (await task(waiting.id)).status === 'completed',
    { timeoutMs: 15_000 },
  )
}, 30_000)

test('the overview shows work flowing (screenshot), and no console error happened', async () => {
  await api('POST', '/tasks/batch', {
    tasks: Array.from({ length: 60 }, (_, i) => ({
      task_type: 'delay_task',
      priority: ['low', 'normal', 'high', 'critical'][i % 4],
      payload: { delay_seconds: 0.2 + (i % 4) * 0.1 },
    })),
  })
  await nav('Overview')
  await page.waitForFunction(
    () =>
      Number(document.querySelector('[data-state=completed] .node-count')?.getAttribute('data-count')) >= 20,
    undefined,
    {
      timeout: 20_000,
    },
  )
  await page.locator('.diagram .edge.on').first().waitFor()
  // The throughput chart draws its first line within seconds of the page opening.
  await page.locator('.chart .series.ok polyline').waitFor()
  // Queue latency and run times come with the stream's transitions (GET /events carries each
  // claim's wait_ms and each attempt's run_ms): both lines draw, and nothing read /metrics.
  const latency = page.locator('.card', { hasText: 'Queue latency' })
  await latency.locator('.series.info .latest').waitFor({ state: 'attached' })
  await latency.locator('.series.warn .latest').waitFor({ state: 'attached' })
  expect(await latency.textContent()).not.toContain('no task claimed since this page opened')
  expect(metricsReads).toBe(0)
  await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true })
  expect(problems).toEqual([])
}, 30_000)

test('the chaos view shows with --chaos and stays hidden without it', async () => {
  await nav('Chaos')
  await page.getByRole('heading', { name: 'Chaos' }).waitFor()
  // A second server on the same database, without --chaos: /health says chaos is off, its routes 404.
  const dir = await tempDir('panel-nochaos')
  const plain = spawnTasklab(['serve'], {
    command: [await compiledBinary()],
    cwd: dir,
    label: 'serve (no chaos)',
    env: {
      DATABASE_URL: db.url,
      STARTER__SERVER__PORT: '0',
      STARTER__DATA_DIR: dir,
      STARTER__LOG__FORMAT: 'json',
    },
  })
  try {
    const url = await waitFor(
      'the second server',
      () => /control panel: (http:\/\/\S+?)\/?\s/.exec(plain.output())?.[1],
      {
        timeoutMs: 20_000,
        detail: () => tail(plain.output()),
      },
    )
    const other = await browser.newPage()
    await other.goto(url)
    const token = await page.evaluate(() => localStorage.getItem('tasklab.token'))
    await other.evaluate((t) => localStorage.setItem('tasklab.token', t!), token)
    const errors: string[] = []
    other.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
    const probe = other.waitForResponse((r) => r.url().endsWith('/api/v1/health'))
    await other.goto(`${url}/chaos`)
    await other.getByRole('heading', { name: 'Not found' }).waitFor()
    expect(((await (await probe).json()) as { data: { chaos: boolean } }).data.chaos).toBe(false)
    expect(await other.locator('.side nav a', { hasText: 'Chaos' }).count()).toBe(0)
    // The panel learns it from /health, so its console stays clean; the routes themselves are 404.
    expect(errors).toEqual([])
    const direct = await fetch(`${url}/api/v1/chaos/faults`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(direct.status).toBe(404)
    await other.close()
  } finally {
    plain.proc.kill('SIGTERM')
    await plain.waitExit(15_000)
  }
}, 40_000)

test('SIGTERM stops the server gracefully while the panel holds its live stream, and the panel shows the loss', async () => {
  expect(await page.locator('.conn').getAttribute('data-conn')).toBe('live')
  server.proc.kill('SIGTERM')
  expect(await server.waitExit(15_000)).toBe(0)
  // The stream is gone: the indicator falls back to polling, then says offline.
  await page.locator('.conn:not([data-conn=live])').waitFor()
}, 30_000)
