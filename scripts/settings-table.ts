// Rewrites docs/configuration.md's settings table from the settings table in src/config.ts.
import { withSettingsTable } from '../src/cli/settings-doc'

const file = Bun.file('docs/configuration.md')
await Bun.write(file, withSettingsTable(await file.text()))
