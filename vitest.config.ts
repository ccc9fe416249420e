import { defineConfig } from 'vitest/config';

const conditions = ['@oma/source', 'node', 'import', 'module', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@oma/source'] } },
  test: {
    projects: ['packages/*', 'tools/*', 'test'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
