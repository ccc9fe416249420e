import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { genericPlatform } from '@oma/core';
import { buildRegistry } from '../registry.js';
import { allPlatformSources, configDocs, printConfigDocs } from './docs.js';

describe('docs/configuration.md', () => {
  it('matches the config schemas (regenerate with `node packages/cli/bin/oma.js docs config > docs/configuration.md`)', async () => {
    const generated = await printConfigDocs();
    const committed = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(committed).toBe(generated);
  });

  it('documents every component type and option of core and of every platform, whatever OS generates it', async () => {
    const registry = buildRegistry(genericPlatform('docs'));
    const platforms = await allPlatformSources();
    const doc = configDocs(registry, platforms);
    for (const t of [...registry.types('source'), ...registry.types('sink'), ...registry.types('processor'), 'local_workspace']) {
      expect(doc).toContain(`### \`${t}\``);
    }
    for (const p of platforms) {
      for (const t of p.registry.types('source')) expect(doc).toContain(`### \`${t}\` (${p.title})`);
    }
    expect(doc).toContain('### `performance_counters` (Linux)');
    expect(doc).toContain('### `performance_counters` (Windows)');
    expect(doc).toMatch(/\| `intervalMs` \| .* \| `60000` \|/);
    expect(doc).toMatch(/\| `queue.fullPolicy`|\| `fullPolicy` \| `block` \\\| `drop_oldest`/);
  });
});
