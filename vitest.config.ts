import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Redis and PostgreSQL tests use their own key prefix / schema per file, so files may run in parallel.
    pool: 'forks',
  },
});
