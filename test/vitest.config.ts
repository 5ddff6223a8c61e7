import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Files run in parallel; each isolates itself (own database, key prefix, queue names).
    pool: 'forks',
    maxWorkers: 2,
  },
});
