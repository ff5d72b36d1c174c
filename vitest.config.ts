import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@nnmax/source'] },
  ssr: { resolve: { conditions: ['@nnmax/source'], externalConditions: ['@nnmax/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    setupFiles: ['test/setup/fast-check.ts'],
  },
});
