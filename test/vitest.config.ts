import { defineProject } from 'vitest/config';

const conditions = ['@oma/source', 'node', 'import', 'module', 'default'];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@oma/source'] } },
  test: {
    name: 'e2e',
    include: ['e2e/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
