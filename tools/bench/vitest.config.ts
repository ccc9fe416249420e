import { defineProject } from 'vitest/config';

const conditions = ['@oma/source', 'node', 'import', 'module', 'default'];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@oma/source'] } },
  test: { name: 'bench', include: ['src/**/*.test.ts'] },
});
