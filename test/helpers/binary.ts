import { resolve } from 'node:path'

/** The compiled binary under test (npm test builds it first); TASKLAB_BIN points elsewhere. */
export const TASKLAB_BIN = resolve(process.env.TASKLAB_BIN ?? 'dist/tasklab')

/** Runs tasklab from source: for process tests that do not need the compiled binary. */
export const TASKLAB_SRC = ['bun', resolve('src/main.ts')]
