// Where the browser tests get Chromium from: CHROMIUM_PATH first, then the system, then the build
// `npm install` brought. The last is the one a bare machine has, so it is launched for real here.
import { expect, test } from 'bun:test'
import { chromium } from 'playwright-core'
import { CHROMIUM_ARGS, findChromium } from '../helpers/chromium'

test('CHROMIUM_PATH wins over the system, and a wrong one is named', async () => {
  const self = process.execPath
  expect(await findChromium({ env: self, system: ['/bin/sh'] })).toMatchObject({
    path: self,
    source: 'CHROMIUM_PATH',
  })
  await expect(findChromium({ env: '/nowhere/chromium' })).rejects.toThrow(
    'CHROMIUM_PATH is /nowhere/chromium',
  )
  // A path that is not a runnable file (e.g. /dev/null bound over it to hide it) is skipped.
  expect(
    await findChromium({ env: undefined, system: ['/nowhere/chrome', '/dev/null', '/bin/sh'] }),
  ).toMatchObject({
    path: '/bin/sh',
    source: 'system',
  })
})

test.skipIf(process.platform !== 'linux' || process.arch !== 'x64')(
  'with no system Chromium, the npm-provided one launches and renders text',
  async () => {
    const found = await findChromium({ env: undefined, system: [] })
    expect(found.source).toBe('npm')
    const browser = await chromium.launch({
      executablePath: found.path,
      args: CHROMIUM_ARGS,
      env: { ...(process.env as Record<string, string>), ...found.env },
    })
    try {
      const page = await browser.newPage()
      await page.setContent('<p style="font: 16px sans-serif; display: inline">Why is it waiting?</p>')
      const box = await page.locator('p').boundingBox()
      // Glyphs with real widths: ~18 characters of a 16 px font are far wider than 50 px.
      expect(box!.width).toBeGreaterThan(50)
    } finally {
      await browser.close()
    }
  },
  60_000,
)
