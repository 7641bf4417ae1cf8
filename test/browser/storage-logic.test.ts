// The Storage page's wording of sizes and retentions, without a browser.
import { expect, test } from 'bun:test'
import { bytes, keep } from '../../web/views/storage'

test('sizes read as a person reads them', () => {
  expect(bytes(0)).toBe('0 B')
  expect(bytes(1023)).toBe('1023 B')
  expect(bytes(1536)).toBe('1.5 kB')
  expect(bytes(250 * 1024 * 1024)).toBe('250 MB')
  expect(bytes(-2048)).toBe('−2.0 kB')
  expect(bytes(null)).toBe('—')
})

test('retention: default, for ever, or a duration', () => {
  expect(keep(null)).toBe('default')
  expect(keep(0)).toBe('for ever')
  expect(keep(604_800)).toBe('7 d')
  expect(keep(90_000)).toBe('25 h 0 min')
  expect(keep(90)).toBe('1 min 30 s')
})
