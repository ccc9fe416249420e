import { defineProject } from 'vitest/config';

const conditions = ['@oma/source', 'node', 'import', 'module', 'default'];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@oma/source'] } },
  // Wine starts slowly and the first run fetches node.exe and makes a Wine prefix.
  test: {
    name: 'wine-tests',
    include: ['src/**/*.test.ts'],
    globalSetup: ['src/global-setup.ts'],
    // One Wine prefix: the scenarios run one after another.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
  },
});
