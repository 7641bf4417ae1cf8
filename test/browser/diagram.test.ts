// The overview's live state diagram agrees with its legend, in real Chromium at 390, 1024 and
// 1440 px, light and dark, while tasks move along most of its arrows: no two labels overlap and no
// label covers a state; every arrow has its name, and an active one shows its rate beside it;
// dashed is "done by you" and nothing else; idle arrows stand out from the card in both themes;
// labels stay readable on a phone; the tiles fill their rows. Screenshots of each go to
// test-results/screenshots/ (UPDATE_SCREENSHOTS=1: docs/screenshots/, the copies kept in git).
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, watchedPage } from '../helpers/chromium'
import { type PanelServer, startPanelServer } from '../helpers/panel'
import { tail, waitFor } from '../helpers/proc'

const SHOTS = resolve(
  process.env.UPDATE_SCREENSHOTS === '1' ? 'docs/screenshots' : 'test-results/screenshots',
)

let app: PanelServer
let browser: Browser
/** One page throughout: the rates it shows live in the page's memory. */
let page: Page
let pump: Timer | undefined
const problems: string[] = []
const api = <T>(method: string, path: string, body?: unknown) => app.api<T>(method, path, body)
type Task = { id: string; status: string }
const statusOf = async (id: string) => (await api<Task>('GET', `/tasks/${id}`)).status
const until = (what: string, id: string, status: string) =>
  waitFor(what, async () => (await statusOf(id)) === status, { timeoutMs: 45_000 })

beforeAll(async () => {
  app = await startPanelServer('diagram', ['--concurrency', '8'])
  await mkdir(SHOTS, { recursive: true })
  browser = await launchChromium()
  page = await openOverview()
  // The rates are averaged over 20 s: a little work flows from here to the end, so every view is
  // read with active arrows, whether or not the traffic test before it got all its arrows lit.
  pump = setInterval(() => {
    void api('POST', '/tasks/batch', {
      tasks: Array.from({ length: 5 }, () => ({ task_type: 'delay_task', payload: { delay_seconds: 0.05 } })),
    }).catch((err) => problems.push(`pump: ${err}`))
  }, 1000)
}, 120_000)

afterAll(async () => {
  clearInterval(pump)
  await browser?.close()
  await app?.stop()
}, 30_000)

/** The overview, signed in, once its stream is live. */
async function openOverview(): Promise<Page> {
  const p = await watchedPage(browser, problems, { viewport: { width: 1440, height: 900 } })
  await app.signIn(p)
  await p.locator('.diagram [data-state=completed] .node-count:not([data-count=""])').waitFor()
  // Rates come from the event stream: work started before it connects would never show.
  await p.locator('.conn[data-conn=live]').waitFor()
  return p
}

/**
 * Notes in the page every arrow that turns active from now on. An arrow's rate fades 20 s after its
 * last move, so on a slow machine the first arrows of a long traffic run may be idle again before
 * the last ones light: what was lit at any moment is what the diagram showed.
 */
async function noteLitArrows(): Promise<void> {
  await page.evaluate(() => {
    const seen = new Set<string>()
    Object.assign(window, { litArrows: seen })
    setInterval(() => {
      for (const g of document.querySelectorAll('.diagram .edge.on')) seen.add(g.getAttribute('data-edge')!)
    }, 50)
  })
}
const litArrows = () => page.evaluate(() => [...(window as unknown as { litArrows: Set<string> }).litArrows])

/**
 * Moves tasks along as many arrows as the API can reach. Returns how long each step took, for the
 * message of a test that fails.
 */
async function traffic(): Promise<string[]> {
  const steps: string[] = []
  let last = Date.now()
  const step = (name: string) => {
    steps.push(`${name} ${Date.now() - last} ms`)
    last = Date.now()
  }
  const fail = (delayMs: number) => ({
    task_type: 'email',
    payload: { to: 'a@example.com', subject: 's', body: 'this will fail', latency_ms: 20 },
    max_attempts: 2,
    retry_strategy: { type: 'fixed', interval_ms: delayMs, max_attempts: 2 },
  })
  // Failing emails would open the type's breaker (5 in a row) and stop the rest from moving.
  await api('PATCH', '/tasks/types/email', { breaker: { failure_threshold: 1000 } })
  await api('POST', '/tasks/batch', {
    tasks: [
      ...Array.from({ length: 30 }, (_, i) => ({
        task_type: 'delay_task',
        payload: { delay_seconds: 0.05 + (i % 3) * 0.05 },
      })),
      ...Array.from({ length: 4 }, () => fail(200)),
      ...Array.from({ length: 3 }, () => ({
        task_type: 'delay_task',
        payload: { delay_seconds: 0.05 },
        scheduled_at: new Date(Date.now() + 800).toISOString(),
      })),
    ],
  })
  step('batch')
  // Cancels from each waiting state and from running, then a retry of a failed and a cancelled task.
  const far = await api<Task>('POST', '/tasks', {
    task_type: 'delay_task',
    payload: { delay_seconds: 0 },
    scheduled_at: new Date(Date.now() + 3_600_000).toISOString(),
  })
  await api('POST', `/tasks/${far.id}/cancel`)
  step('scheduled, cancelled')
  const long = await api<Task>('POST', '/tasks', { task_type: 'delay_task', payload: { delay_seconds: 30 } })
  await until('the long task to run', long.id, 'running')
  await api('POST', `/tasks/${long.id}/cancel`)
  step('running, cancelled')
  const backoff = await api<Task>('POST', '/tasks', fail(60_000))
  await until('the failing email to wait for its backoff', backoff.id, 'retrying')
  await api('POST', `/tasks/${backoff.id}/cancel`)
  await api('POST', `/tasks/${backoff.id}/retry`)
  step('retrying, cancelled, retried')
  const failed = await api<Task>('POST', '/tasks', fail(50))
  await until('the failing email to fail', failed.id, 'failed')
  await api('POST', `/tasks/${failed.id}/retry`)
  step('failed, retried')
  await api('PATCH', '/tasks/types/data_processing', { paused: true })
  const held = await api<Task>('POST', '/tasks', {
    task_type: 'data_processing',
    payload: { operation: 'sum', data: [1] },
  })
  // A worker may claim it before it hears of the pause; then that arrow just stays idle.
  await api('POST', `/tasks/${held.id}/cancel`).catch(() => {})
  await api('PATCH', '/tasks/types/data_processing', { paused: false })
  step('pending, cancelled')
  return steps
}

/** The arrows the traffic (and the pump) drive tasks along: all but pending → scheduled,
 * running → pending (a worker's hand-back) and retrying → failed (a lease lost on the last attempt). */
const DRIVEN = [
  'cancelled>pending',
  'failed>pending',
  'pending>cancelled',
  'pending>running',
  'retrying>cancelled',
  'retrying>running',
  'running>cancelled',
  'running>completed',
  'running>failed',
  'running>retrying',
  'scheduled>cancelled',
  'scheduled>pending',
]

test('tasks move along twelve arrows of the diagram, and exactly those light', async () => {
  await noteLitArrows()
  const steps = await traffic()
  const lit = async () => (await litArrows()).sort()
  const allLit = async () => {
    const seen = await lit()
    return DRIVEN.every((a) => seen.includes(a))
  }
  await waitFor('the arrows the traffic took to light', allLit, {
    timeoutMs: 30_000,
    detail: async () =>
      `lit: ${(await lit()).join(', ') || 'none'}; stream: ${await page.locator('.conn').getAttribute('data-conn')}\n` +
      `traffic: ${steps.join(', ')}\nthe server said:\n${tail(app.server.output(), 40)}`,
  })
  expect(await lit()).toEqual(DRIVEN)
}, 180_000)

interface Box {
  x: number
  y: number
  width: number
  height: number
  name: string
}
const overlap = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height

/** Relative luminance contrast of two CSS colours (WCAG's formula). */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = (c.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
      const s = Number(v) / 255
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!
  }
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x)
  return (hi! + 0.05) / (lo! + 0.05)
}

const twoArrowsLit = () => document.querySelectorAll('.diagram .edge.on').length >= 2

for (const theme of ['light', 'dark'] as const) {
  for (const width of [1440, 1024, 390]) {
    test(`the diagram at ${width} px, ${theme}: labels apart and readable, arrows as the legend says`, async () => {
      await page.setViewportSize({ width, height: 900 })
      await page.emulateMedia({ colorScheme: theme })
      await page.locator(`.diagram.${width < 700 ? 'narrow' : 'wide'}`).waitFor()
      // Polled on a timer, not on animation frames (Playwright's default), which a busy machine may starve.
      await page.waitForFunction(twoArrowsLit, undefined, { polling: 100 })
      await page.locator('.diagram-card').screenshot({ path: `${SHOTS}/diagram-${width}-${theme}.png` })
      const facts = await page.evaluate(() => {
        const box = (el: Element, name: string) => {
          const r = el.getBoundingClientRect()
          return { x: r.x, y: r.y, width: r.width, height: r.height, name }
        }
        const edges = [...document.querySelectorAll('.diagram .edge')].map((g) => {
          const path = g.querySelector('path')!
          const text = g.querySelector('text')!
          const style = getComputedStyle(path)
          return {
            key: g.getAttribute('data-edge')!,
            on: g.classList.contains('on'),
            user: g.classList.contains('user'),
            label: [...text.querySelectorAll('tspan.name')].map((t) => t.textContent).join(' '),
            rate: text.querySelector('tspan.rate')?.textContent ?? '',
            dashed: style.strokeDasharray !== 'none' && style.strokeDasharray !== '',
            stroke: style.stroke,
            box: box(text, g.getAttribute('data-edge')!),
            lineHeight: text.querySelector('tspan')!.getBoundingClientRect().height,
          }
        })
        const nodes = [...document.querySelectorAll('.diagram .node rect')].map((r) =>
          box(r, r.parentElement!.getAttribute('data-state')!),
        )
        const card = getComputedStyle(document.querySelector('.diagram-card')!).backgroundColor
        const tiles = [...document.querySelectorAll('.tiles .tile')].map((t) =>
          box(t, t.getAttribute('data-tile')!),
        )
        const tilesRow = document.querySelector('.tiles')!.getBoundingClientRect()
        return { edges, nodes, card, tiles, tilesRow: { x: tilesRow.x, width: tilesRow.width } }
      })

      // Every arrow is named; an active one shows its rate with the name, never instead of it.
      expect(facts.edges.length).toBe(15)
      for (const e of facts.edges) {
        expect(e.label.length).toBeGreaterThan(0)
        if (e.on) expect(e.rate).toMatch(/\/(s|min)$/)
        // Dashed means "done by you", whether the arrow is idle or active.
        expect([e.key, e.dashed]).toEqual([e.key, e.user])
        if (!e.on) expect(contrast(e.stroke, facts.card)).toBeGreaterThanOrEqual(2.5)
        // Readable: at least 10 CSS px of line height, on a phone too.
        expect(e.lineHeight).toBeGreaterThanOrEqual(10)
      }
      expect(facts.edges.filter((e) => e.on).length).toBeGreaterThanOrEqual(2)
      // No label overlaps another label or covers a state.
      const labels = facts.edges.map((e) => e.box)
      for (let i = 0; i < labels.length; i++) {
        for (let j = i + 1; j < labels.length; j++)
          expect([labels[i]!.name, labels[j]!.name, overlap(labels[i]!, labels[j]!)]).toEqual([
            labels[i]!.name,
            labels[j]!.name,
            false,
          ])
        for (const n of facts.nodes)
          expect([labels[i]!.name, n.name, overlap(labels[i]!, n)]).toEqual([labels[i]!.name, n.name, false])
      }
      // The tiles fill their rows: one row where they fit, else two per row with the fifth spanning.
      const rows = new Map<number, Box[]>()
      for (const t of facts.tiles) rows.set(Math.round(t.y), [...(rows.get(Math.round(t.y)) ?? []), t])
      for (const row of rows.values()) {
        const right = Math.max(...row.map((t) => t.x + t.width))
        expect(Math.abs(right - (facts.tilesRow.x + facts.tilesRow.width))).toBeLessThan(2)
      }
      if (width >= 1024) expect(rows.size).toBe(1)
    }, 30_000)
  }
}

test('no console error on the page', () => {
  expect(problems).toEqual([])
})
