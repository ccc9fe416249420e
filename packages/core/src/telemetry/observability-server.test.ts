import { afterEach, describe, expect, it } from 'vitest';
import { createRootLogger } from './logger.js';
import { MetricsRegistry } from './metrics.js';
import { ObservabilityServer } from './observability-server.js';

const servers: ObservabilityServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()!.close();
});

async function start(host: string): Promise<{ server: ObservabilityServer; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const log = createRootLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
  const server = await ObservabilityServer.start({ host, port: 0, registry: new MetricsRegistry(), log, health: () => ({ healthy: true }) });
  servers.push(server);
  return { server, lines };
}

const WARNING = /^metrics endpoint listens beyond loopback and has no authentication/;

describe('ObservabilityServer', () => {
  it('serves /healthz and /metrics on loopback without a warning', async () => {
    const { server, lines } = await start('127.0.0.1');
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', detail: null });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    expect(lines.filter((l) => WARNING.test(String(l.msg)))).toEqual([]);
  });

  it('warns once, naming the address, when it listens beyond loopback', async () => {
    // Bound on every interface for the length of the test; no request is sent to it.
    const { server, lines } = await start('0.0.0.0');
    expect(lines.filter((l) => WARNING.test(String(l.msg)))).toEqual([expect.objectContaining({ level: 40, endpoint: server.url })]);
    expect(server.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
  });
});
