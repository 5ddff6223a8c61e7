import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // the fault suite starts its own worker processes and services: npm run test:faults
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Files run in parallel; each isolates itself (own database, key prefix, queue names).
    pool: 'forks',
    maxWorkers: 2,
  },
});
