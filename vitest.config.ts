import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Starts a PostgreSQL server for the run when DATABASE_URL is not set (see the file).
    globalSetup: ['./test/support/postgres.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: process-level tests start their own workers, so keep file parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
})
