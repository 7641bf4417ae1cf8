// The two slowest tests (bench --quick ~62 s, chaos all ~27 s: about half the suite's time) run in
// their own step: `npm run test:slow` sets TASKLAB_SLOW_TESTS=1. A plain `bun test` lists them as
// skipped, so nobody mistakes them for passing.
import { test } from 'bun:test'

export const SLOW_TESTS = process.env.TASKLAB_SLOW_TESTS === '1'

/** `test`, run only in the slow step. */
export const slowTest = test.skipIf(!SLOW_TESTS)
