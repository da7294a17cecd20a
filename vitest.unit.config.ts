import { defineConfig } from 'vitest/config';

/** Unit tests only, without starting PostgreSQL or ClickHouse: `npx vitest run -c vitest.unit.config.ts test/ring`. */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
