// Every command's --help gives usage, examples and its exit codes, and says how the database is
// chosen (the embedded default included), so a user never has to read the README to start.
import { expect, test } from 'bun:test'
import { COMMAND_HELP, mainHelp } from '../../src/cli/help'

test.each(Object.keys(COMMAND_HELP))('tasklab %s --help has usage, examples and exit codes', (command) => {
  const page = COMMAND_HELP[command]!
  expect(page).toContain(`tasklab ${command}`)
  expect(page).toContain('Usage:')
  expect(page).toMatch(/Examples?:\n {2}\S/)
  expect(page).toMatch(/Exit codes:\n {2}0 {4}\S/)
  // init-handler only writes two files: it opens no database and takes no database options.
  if (command !== 'init-handler') expect(page).toContain('--database-url')
})

test('the commands that open a database explain the embedded default, its one-owner rule and joining', () => {
  for (const command of ['start', 'serve', 'worker', 'migrate']) {
    expect(COMMAND_HELP[command]).toContain('~/.local/share/tasklab')
    expect(COMMAND_HELP[command]).toContain('a second start on the same data dir is refused')
  }
  expect(COMMAND_HELP.worker).toContain('joins the embedded PostgreSQL')
  expect(mainHelp()).toContain('embedded PostgreSQL')
  expect(mainHelp()).toContain('Exit codes: 0 success')
})
