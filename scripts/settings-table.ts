// Rewrites the README's configuration table from the settings table in src/config.ts.
import { withSettingsTable } from '../src/cli/settings-doc'

const file = Bun.file('README.md')
await Bun.write(file, withSettingsTable(await file.text()))
