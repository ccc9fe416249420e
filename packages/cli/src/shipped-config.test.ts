import { fileURLToPath } from 'node:url';
import { loadAgentConfig } from '@oma/core';
import { createPlatform as createLinuxPlatform } from '@oma/linux';
import { createPlatform as createWindowsPlatform } from '@oma/windows';
import { describe, expect, it } from 'vitest';
import { buildRegistry } from './registry.js';

const SHIPPED = fileURLToPath(new URL('../../../config/oma.yaml', import.meta.url));

/** The shipped config is one file for every platform: each platform's sources check against that platform's types, on any OS. */
describe('config/oma.yaml on each platform', () => {
  it.each([
    ['linux', createLinuxPlatform, ['app_logs', 'heartbeat', 'journal', 'perf', 'syslog']],
    ['windows', createWindowsPlatform, ['app_logs', 'events', 'heartbeat', 'perf']],
  ] as const)('is valid on %s, with that platform\'s sources', async (_name, create, ids) => {
    const platform = create();
    const config = await loadAgentConfig(SHIPPED, buildRegistry(platform), platform);
    expect(config.sources.map((s) => s.id).sort()).toEqual([...ids]);
  });
});
