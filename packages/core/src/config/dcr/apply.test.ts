import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../errors.js';
import { ComponentRegistry } from '../../pipeline/registry.js';
import { customLogSource } from '../../sources/custom_log/index.js';
import { heartbeatSource } from '../../sources/heartbeat/index.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { silentLogger } from '../../telemetry/logger.js';
import { parseAgentConfig } from '../agent-config.js';
import { applyDcr, dcrReportIssues, formatDcrReport } from './apply.js';
import type { DcrLoadResult } from './dcr-source.js';
import { DcrWatcher } from './dcr-watcher.js';

const registry = new ComponentRegistry([heartbeatSource, customLogSource]);

function problems(doc: unknown): string[] {
  try {
    parseAgentConfig(doc, registry);
  } catch (err) {
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe('dataCollectionRule config', () => {
  it('takes a file (resolved, polled every 10 s by default) or a URL (polled every 5 min by default)', () => {
    const f = parseAgentConfig({ dataCollectionRule: { file: 'rules/dcr.json' } }, registry);
    expect(f.dataCollectionRule).toEqual({ kind: 'file', file: join(process.cwd(), 'rules/dcr.json'), pollIntervalMs: 10_000 });
    process.env.OMA_TEST_DCR_TOKEN = 'Bearer t0ken';
    const u = parseAgentConfig(
      { dataCollectionRule: { url: 'https://cfg.example.com/dcr.json?sv=1&sig=x', headers: { Authorization: { env: 'OMA_TEST_DCR_TOKEN' } }, pollIntervalMs: '1m' } },
      registry,
    );
    expect(u.dataCollectionRule).toMatchObject({ kind: 'url', pollIntervalMs: 60_000, allowInsecureHttp: false, requestTimeoutMs: 30_000 });
    const headers = (u.dataCollectionRule as { headers: Record<string, { reveal(): string }> }).headers;
    expect(headers.Authorization!.reveal()).toBe('Bearer t0ken');
    expect(JSON.stringify(u)).not.toMatch(/t0ken/);
    expect(parseAgentConfig({ dataCollectionRule: { url: 'http://127.0.0.1:8080/dcr.json' } }, registry).dataCollectionRule).toMatchObject({ kind: 'url' });
  });

  it('refuses bad combinations with their paths', () => {
    expect(problems({ dataCollectionRule: {} })).toEqual(['dataCollectionRule: give exactly one of file or url']);
    expect(problems({ dataCollectionRule: { file: 'a', url: 'https://x' } })).toEqual(['dataCollectionRule: give exactly one of file or url']);
    expect(problems({ dataCollectionRule: { file: 'a', headers: {} } })).toEqual(['dataCollectionRule.headers: headers applies to url only']);
    expect(problems({ dataCollectionRule: { file: 'a', pollIntervalMs: 5 } })).toEqual([
      'dataCollectionRule.pollIntervalMs: a file is polled every 100 ms at the most often (0 turns polling off)',
    ]);
    expect(problems({ dataCollectionRule: { url: 'https://x.example.com/d', pollIntervalMs: '5s' } })).toEqual([
      'dataCollectionRule.pollIntervalMs: a URL is polled every 10 s at the most often',
    ]);
    expect(problems({ dataCollectionRule: { url: 'http://cfg.example.com/d' } })[0]).toMatch(/^dataCollectionRule\.url: plain http is allowed only towards a loopback host/);
    expect(problems({ dataCollectionRule: { url: 'http://cfg.example.com/d', allowInsecureHttp: true } })).toEqual([]);
    expect(problems({ dataCollectionRule: { url: 'https://u:p@cfg.example.com/d' } })).toEqual(['dataCollectionRule.url: must not contain credentials (use headers)']);
    expect(problems({ dataCollectionRule: { url: 'https://cfg.example.com/d', headers: { 'If-None-Match': 'x' } } })[0]).toMatch(/set by the agent/);
    expect(problems({ dataCollectionRule: { file: 'a', extra: 1 } })).toEqual(['dataCollectionRule: unknown key: extra']);
  });
});

const dcr = (patterns: unknown[], name = 'app') => ({
  properties: {
    dataSources: { logFiles: [{ name, streams: ['Custom-App'], filePatterns: patterns, format: 'text' }] },
  },
});

describe('applyDcr', () => {
  const base = parseAgentConfig({ sources: { hb: { type: 'heartbeat' } } }, registry);

  it('adds the rule\'s sources after the config file\'s', () => {
    const app = applyDcr(base, dcr(['/var/log/app/*.log']), registry);
    expect(app.ok).toBe(true);
    expect(app.config.sources.map((s) => [s.id, s.type])).toEqual([
      ['hb', 'heartbeat'],
      ['dcr-app', 'custom_log'],
    ]);
    expect(app.config.destinations).toBe(base.destinations);
  });

  it('keeps the base config when the rule has an error, and turns the errors into config issues', () => {
    const app = applyDcr(base, dcr(['/var/log/app/*.log', '']), registry);
    expect(app.ok).toBe(false);
    expect(app.config).toBe(base);
    expect(dcrReportIssues(app.mapping.report)).toEqual([
      { path: 'dataCollectionRule: properties.dataSources.logFiles[0].filePatterns[1]', message: expect.any(String) },
    ]);
    expect(formatDcrReport(app.mapping.report)[0]).toMatch(/^error {4}dataCollectionRule: properties\.dataSources\.logFiles\[0\]\.filePatterns\[1\]: /);
  });

  it('refuses a source id the config file already uses', () => {
    const withId = parseAgentConfig({ sources: { 'dcr-app': { type: 'heartbeat' } } }, registry);
    const app = applyDcr(withId, dcr(['/x/*.log']), registry);
    expect(app.ok).toBe(false);
    expect(dcrReportIssues(app.mapping.report)).toEqual([
      { path: 'dataCollectionRule: properties.dataSources.logFiles[0].name', message: expect.stringMatching(/"dcr-app", which the config file's sources already use/) },
    ]);
  });
});

describe('DcrWatcher', () => {
  it('loads every interval and calls onChange for changed documents only, one at a time', async () => {
    const clock = new FakeClock();
    const results: DcrLoadResult[] = [
      { changed: false, json: 1, etag: undefined, from: 'url' },
      { changed: true, json: 2, etag: undefined, from: 'url' },
      { changed: false, json: 2, etag: undefined, from: 'url', error: 'HTTP 500' },
    ];
    let loads = 0;
    const seen: unknown[] = [];
    let release: () => void = () => undefined;
    const w = new DcrWatcher({
      source: {
        load: () => {
          loads++;
          const r = results.shift();
          return r ? Promise.resolve(r) : Promise.reject(new Error('source broke'));
        },
      },
      intervalMs: 1000,
      clock,
      log: silentLogger(),
      onChange: (r) => {
        seen.push(r.json);
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    w.start();
    await clock.advance(999);
    expect(loads).toBe(0);
    await clock.advance(1);
    expect(loads).toBe(1);
    await clock.advance(1000);
    expect(loads).toBe(2);
    expect(seen).toEqual([2]);
    // While onChange runs, no further load.
    await clock.advance(5000);
    expect(loads).toBe(2);
    release();
    await clock.advance(0);
    await clock.advance(1000);
    expect(loads).toBe(3);
    // A throwing load does not end the loop.
    await clock.advance(1000);
    await clock.advance(1000);
    expect(loads).toBe(5);
    await w.stop();
    await clock.advance(5000);
    expect(loads).toBe(5);
    expect(seen).toEqual([2]);
  });

  it('does nothing with interval 0', async () => {
    const clock = new FakeClock();
    let loads = 0;
    const w = new DcrWatcher({
      source: { load: () => (loads++, Promise.resolve({ changed: true, json: 1, etag: undefined, from: 'file' })) },
      intervalMs: 0,
      clock,
      log: silentLogger(),
      onChange: () => Promise.resolve(),
    });
    w.start();
    await clock.advance(60_000);
    expect(loads).toBe(0);
    await w.stop();
  });
});
