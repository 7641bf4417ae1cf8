// The README's state diagram is documentation users learn from: it must match the code.
import { expect, test } from 'bun:test'
import { TASK_STATUSES, TRANSITIONS } from '../../src/queue/states'

test('the README state diagram lists exactly the transitions of src/queue/states.ts', async () => {
  const readme = await Bun.file('README.md').text()
  const block = readme.split('<!-- state-machine:start')[1]?.split('<!-- state-machine:end')[0] ?? ''
  const edges = [...block.matchAll(/^\s*(\w+) --> (\w+)\s*$/gm)].map((m) => `${m[1]}->${m[2]}`).sort()
  const expected = TASK_STATUSES.flatMap((from) =>
    Object.keys(TRANSITIONS[from]).map((to) => `${from}->${to}`),
  ).sort()
  expect(edges).toEqual(expected)
  expect(block).toContain('[*] --> pending')
  expect(block).toContain('[*] --> scheduled')
})
