import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPlatform } from '../platform.js';
import { buildRegistry } from '../registry.js';
import { configDocs } from './docs.js';

describe('docs/configuration.md', () => {
  it('matches the config schemas (regenerate with `node packages/cli/bin/oma.js docs config > docs/configuration.md`)', async () => {
    const generated = configDocs(buildRegistry(await loadPlatform()));
    const committed = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(committed).toBe(generated);
  });

  it('documents every registered component type and option', async () => {
    const registry = buildRegistry(await loadPlatform());
    const doc = configDocs(registry);
    for (const t of [...registry.types('source'), ...registry.types('sink'), ...registry.types('processor'), 'local_workspace']) {
      expect(doc).toContain(`### \`${t}\``);
    }
    expect(doc).toMatch(/\| `intervalMs` \| .* \| `60000` \|/);
    expect(doc).toMatch(/\| `queue.fullPolicy`|\| `fullPolicy` \| `block` \\\| `drop_oldest`/);
  });
});
