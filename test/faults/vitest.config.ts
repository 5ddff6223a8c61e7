import { defineConfig } from 'vitest/config';

/**
 * The fault suite: real worker processes, services stopped and restarted. Files run
 * one at a time: each scenario loads the machine on its own, and the timings it reports
 * (time to drain) mean something only then.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 5 * 60_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
