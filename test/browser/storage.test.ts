// The Storage page in headless Chromium against the compiled binary: an admin finds it in the nav,
// sees tables, charts and retention, and a transaction left open elsewhere is called out with its
// pid and application; a user has no Storage link. A screenshot goes to test-results/screenshots/.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, watchedPage } from '../helpers/chromium'
import { createTestDatabase, type TestDatabase } from '../helpers/db'
import { holdOpenTransaction } from '../helpers/open-transaction'
import { type Child, compiledBinary, spawnTasklab, tail, tempDir, waitFor } from '../helpers/proc'

const SHOTS = resolve('test-results/screenshots')

let db: TestDatabase
let server: Child
let browser: Browser
let page: Page
let loginLink = ''
const problems: string[] = []

beforeAll(async () => {
  const [database, bin, dir] = await Promise.all([createTestDatabase(), compiledBinary(), tempDir('storage')])
  db = database
  server = spawnTasklab(['serve'], {
    command: [bin],
    cwd: dir,
    label: 'serve (storage page test)',
    env: { DATABASE_URL: db.url, STARTER__SERVER__PORT: '0', STARTER__DATA_DIR: dir },
  })
  loginLink = await waitFor(
    'the admin login link',
    () => /(http:\/\/\S+\/\?login=\S+)/.exec(server.output())?.[1],
    {
      timeoutMs: 30_000,
      detail: () => tail(server.output()),
    },
  )
  await mkdir(SHOTS, { recursive: true })
  browser = await launchChromium()
  page = await watchedPage(browser, problems, { viewport: { width: 1280, height: 1000 } })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  if (server) {
    server.proc.kill('SIGTERM')
    await server.waitExit(15_000).catch(() => server.proc.kill('SIGKILL'))
  }
  await db?.drop()
}, 30_000)

test('an admin sees storage live, and the transaction left open is named with its pid', async () => {
  await page.goto(loginLink)
  // The spent link leaves the admin without a password: the panel asks for one first.
  await page.getByLabel('New password').fill('admin passphrase 123')
  await page.getByLabel('Repeat it').fill('admin passphrase 123')
  await page.getByRole('button', { name: 'Set password' }).click()
  await page.locator('.who', { hasText: 'admin' }).waitFor()
  await page.locator('.side nav a', { hasText: /^Storage/ }).click()
  await page.locator('tr[data-table=tasks]').waitFor()
  await page.locator('tr[data-retention=default]', { hasText: '30 d' }).waitFor()
  expect(await page.locator('.storage .chart svg').count()).toBe(2)
  expect(await page.locator('[data-warning=long-transaction]').count()).toBe(0)

  const held = await holdOpenTransaction(db.url, 'forgotten-psql')
  const pid = held.pid
  try {
    // A link may carry the threshold; 1 s makes the warning appear within the test.
    await page.goto(`${new URL(loginLink).origin}/storage?long_transaction_secs=1`)
    const warning = page.locator('[data-warning=long-transaction]')
    await warning.waitFor()
    expect(await warning.textContent()).toContain(`pid ${pid} (forgotten-psql`)
    await page.locator(`tr[data-pid="${pid}"].danger`).waitFor()
    expect(await page.locator('[data-tile="Oldest transaction"]').textContent()).toContain('forgotten-psql')
    await page.screenshot({ path: `${SHOTS}/storage.png`, fullPage: true })
  } finally {
    await held.release()
  }
  await page.locator('[data-warning=long-transaction]').waitFor({ state: 'detached' })
  expect(problems).toEqual([])
}, 60_000)

test('a user has no Storage link, and the API refuses them', async () => {
  const origin = new URL(loginLink).origin
  const password = 'correct horse battery'
  const reg = await fetch(`${origin}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'plain', email: 'plain@example.com', password }),
  })
  expect(reg.status).toBe(201)
  await page.locator('.who button', { hasText: 'Sign out' }).click()
  await page.getByLabel('Username or email').fill('plain')
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('.who', { hasText: 'plain' }).waitFor()
  expect(await page.locator('.side nav a', { hasText: /^Storage/ }).count()).toBe(0)
  await page.goto(`${origin}/storage`)
  await page.locator('.note.error', { hasText: 'FORBIDDEN' }).waitFor()
}, 30_000)
