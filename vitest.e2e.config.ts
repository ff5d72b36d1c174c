import { defineConfig } from 'vitest/config';

/**
 * `pnpm test:e2e`: the browser tests in test/e2e (named *.e2e.ts so that `pnpm test` leaves them
 * out). They build the demo, serve it with COOP/COEP and drive /usr/bin/chromium.
 */
export default defineConfig({
  resolve: { conditions: ['@nnmax/source'] },
  ssr: { resolve: { conditions: ['@nnmax/source'], externalConditions: ['@nnmax/source'] } },
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
