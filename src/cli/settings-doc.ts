// The configuration table of docs/configuration.md, generated from the settings table in
// src/config.ts; test/unit/settings.test.ts fails when the docs' copy differs, and
// `bun scripts/settings-table.ts` rewrites it.
import { allSettings } from '../config'

export const TABLE_START =
  '<!-- settings:start (generated from src/config.ts: bun scripts/settings-table.ts) -->'
export const TABLE_END = '<!-- settings:end -->'

export function settingsTable(): string {
  const rows = allSettings().map((s) => {
    const flag = `\`--${s.flag}${s.kind.arg && !s.kind.arg.includes('|') ? ` ${s.kind.arg}` : ''}\``
    return `| \`${s.env}\` | ${flag} | ${s.shown} | ${s.kind.accepts} | ${s.help} |`
  })
  return ['| variable | flag | default | accepts | meaning |', '|---|---|---|---|---|', ...rows].join('\n')
}

/** `markdown` with the text between the markers replaced by the generated table. */
export function withSettingsTable(markdown: string): string {
  const start = markdown.indexOf(TABLE_START)
  const end = markdown.indexOf(TABLE_END)
  if (start === -1 || end < start) throw new Error('the settings table markers are missing')
  return `${markdown.slice(0, start + TABLE_START.length)}\n${settingsTable()}\n${markdown.slice(end)}`
}
