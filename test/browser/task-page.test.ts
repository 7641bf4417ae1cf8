// The task page tells the truth, in real Chromium against the compiled binary: the "Why is it
// waiting?" box names the reason and changes live when it goes away; a task rescued from a dead
// worker and then completed shows no stale error, names the rescue in its history and the worker
// that ran it; attempts are numbered across a manual retry; the list and the overview show reasons.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, watchedPage } from '../helpers/chromium'
import { insertTask } from '../helpers/factory'
import { type PanelServer, startPanelServer } from '../helpers/panel'
import { waitFor } from '../helpers/proc'

let app: PanelServer
let browser: Browser
let page: Page
const problems: string[] = []
const api = <T>(method: string, path: string, body?: unknown) => app.api<T>(method, path, body)
const statusOf = async (id: string) => (await api<{ status: string }>('GET', `/tasks/${id}`)).status

beforeAll(async () => {
  app = await startPanelServer('task-page')
  browser = await launchChromium()
  page = await watchedPage(browser, problems)
  await app.signIn(page)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await app?.stop()
}, 30_000)

test('the why box names the paused type, and says finished once the type is resumed and the task ran', async () => {
  await api('PATCH', '/tasks/types/delay_task', { paused: true })
  const t = await api<{ id: string }>('POST', '/tasks', {
    task_type: 'delay_task',
    payload: { delay_seconds: 0.1 },
  })
  // The list badges the task with its reason, and the overview counts it under that reason.
  await page.goto(`${app.base}/tasks`)
  await page.locator(`tr[data-task="${t.id}"] .why-badge[data-why=TYPE_PAUSED]`).waitFor()
  await page.goto(app.base)
  await page.locator('[data-tile=Waiting] [data-breakdown] [data-why=TYPE_PAUSED]').waitFor()

  await page.goto(`${app.base}/tasks/${t.id}`)
  const box = page.locator('.why-card')
  await box.locator('li[data-code=TYPE_PAUSED]').waitFor()
  expect(await box.textContent()).toContain('delay_task is paused')
  expect(await box.locator('.why').getAttribute('data-runnable')).toBe('false')

  await api('PATCH', '/tasks/types/delay_task', { paused: false })
  // No reload: the page follows the task to completed and the box to its terminal answer.
  await page.locator(`.detail[data-status=completed]`).waitFor({ timeout: 20_000 })
  await box.locator('.why[data-why=TERMINAL]').waitFor()
  expect(await box.textContent()).toContain('You can delete it')
}, 60_000)

test('a task rescued from a dead worker, then completed: no stale error, the rescue named, the real worker shown', async () => {
  // A worker that died mid-task: its row has stopped heartbeating and the task's lease has expired.
  await app.db.sql`INSERT INTO workers (id, host, pid, concurrency, lease_ms, task_types, heartbeat_at)
    VALUES ('dead-worker', 'gone', 1, 1, 1000, '{delay_task}', now() - interval '1 minute')`
  const t = await insertTask(app.db.sql, {
    task_type: 'delay_task',
    status: 'running',
    payload: { delay_seconds: 0 },
    created_by: app.adminId,
    current_attempt: 1,
    locked_by: 'dead-worker',
    lease_expires_at: new Date(Date.now() - 1000),
    retry_strategy: { type: 'fixed', interval_ms: 100, max_attempts: 3 },
  })
  // The server's rescue (every second) hands it back; its own worker completes it.
  await waitFor('the rescued task to complete', async () => (await statusOf(t.id)) === 'completed', {
    timeoutMs: 20_000,
  })
  const [worker] = await api<{ id: string }[]>('GET', '/workers')
  await page.goto(`${app.base}/tasks/${t.id}`)
  await page.locator('.attempt[data-outcome=completed]').waitFor()

  expect(await page.locator('[data-last-error]').count()).toBe(0)
  expect(await page.locator('.detail').textContent()).not.toContain('Last error')
  const rescue = page.locator('td[data-actor=rescue]')
  expect(await rescue.textContent()).toBe('rescue (lease of dead-worker expired)')
  expect(await page.locator('[data-worker]').textContent()).toContain(worker!.id)
  expect(await page.locator('[data-worker]').textContent()).not.toContain('—')
  const attempts = await page.locator('.attempt strong').allTextContents()
  expect(attempts).toEqual(['Attempt 2', 'Attempt 1'])
  expect(await page.locator('.attempt[data-attempt="1"]').textContent()).toContain('ended by the rescue')
}, 60_000)

test('after a manual retry, attempts are numbered across retries', async () => {
  const t = await api<{ id: string }>('POST', '/tasks', {
    task_type: 'data_processing',
    // Valid for the schema (a bad one is refused at creation), refused by the handler at run time.
    payload: { operation: 'avg', data: [] },
    max_attempts: 1,
  })
  await waitFor('the empty average to fail', async () => (await statusOf(t.id)) === 'failed', {
    timeoutMs: 15_000,
  })
  await page.goto(`${app.base}/tasks/${t.id}`)
  await page.locator('.detail[data-status=failed]').waitFor()
  await page.getByRole('button', { name: 'Retry' }).click()
  await page.locator('.attempt[data-attempt="2"][data-outcome=failed]').waitFor({ timeout: 15_000 })
  expect(await page.locator('.attempt strong').allTextContents()).toEqual(['Attempt 2', 'Attempt 1'])
  expect(await page.locator('.attempt[data-attempt="2"]').textContent()).toContain('after a manual retry')
  expect(await page.locator('[data-attempts]').textContent()).toContain('2 in all across 1 retry')
  expect(problems).toEqual([])
}, 60_000)
