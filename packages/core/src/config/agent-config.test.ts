import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ConfigError } from '../errors.js';
import type { SinkDefinition } from '../pipeline/component.js';
import { ComponentRegistry } from '../pipeline/registry.js';
import { filterProcessor } from '../processors/filter/index.js';
import { heartbeatSource } from '../sources/heartbeat/index.js';
import { loadAgentConfig, parseAgentConfig, parseConfigText } from './agent-config.js';
import { CONFIG_PARSE, zodIssues } from './issues.js';
import { secretSchema } from './secret.js';

const fakeSink: SinkDefinition = {
  kind: 'sink',
  type: 'fake_sink',
  description: 'test',
  schema: z.strictObject({ url: z.url(), key: secretSchema.optional() }),
  create: () => {
    throw new Error('not used');
  },
};

const registry = new ComponentRegistry([heartbeatSource, filterProcessor, fakeSink]);

/** The issues of a YAML text that does not parse. */
function yamlProblems(text: string): Array<{ path: string; message: string }> {
  try {
    parseConfigText(text, 'f.yaml');
  } catch (err) {
    return [...(err as ConfigError).issues];
  }
  throw new Error('expected a YAML error');
}

function problems(doc: unknown): Array<{ path: string; message: string }> {
  try {
    parseAgentConfig(doc, registry);
  } catch (err) {
    return [...(err as ConfigError).issues];
  }
  return [];
}

describe('agent config', () => {
  it("takes the platform's data directory when the config sets none", () => {
    const doc = { sources: { hb: { type: 'heartbeat' } } };
    const linux = { name: 'linux', defaults: { dataDir: '/var/opt/oma' } };
    expect(parseAgentConfig(doc, registry, undefined, linux).dataDir).toBe('/var/opt/oma');
    expect(parseAgentConfig(doc, registry).dataDir).toBe('/var/lib/oma');
    expect(parseAgentConfig({ ...doc, dataDir: '/srv/oma' }, registry, undefined, linux).dataDir).toBe('/srv/oma');
  });

  it('skips a source meant for other platforms, even when its type does not exist on this one', () => {
    const doc = {
      sources: {
        hb: { type: 'heartbeat', platforms: ['linux', 'windows'] },
        events: { type: 'windows_event_log', platforms: ['windows'], xPathQueries: ['System!*'] },
        typo: { type: 'nope', platforms: ['linux'] },
      },
    };
    const linux = { name: 'linux', defaults: { dataDir: '/x' } };
    let err: ConfigError | undefined;
    try {
      parseAgentConfig(doc, registry, undefined, linux);
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.issues.map((i) => i.path)).toEqual(['sources.typo.type']);
    const { typo: _t, ...rest } = doc.sources;
    const cfg = parseAgentConfig({ sources: rest }, registry, undefined, linux);
    expect(cfg.sources.map((s) => s.id)).toEqual(['hb']);
    const win = parseAgentConfig({ sources: { hb: rest.hb } }, registry, undefined, { name: 'windows', defaults: { dataDir: 'C:\\OMA' } });
    expect(win.sources.map((s) => s.id)).toEqual(['hb']);
    expect(() => parseAgentConfig({ sources: { hb: { type: 'heartbeat', platforms: [] } } }, registry)).toThrow();
  });

  it('applies defaults: a local workspace destination and an absolute dataDir', () => {
    const cfg = parseAgentConfig({ dataDir: 'rel/dir', sources: { hb: { type: 'heartbeat' } } }, registry);
    expect(cfg.dataDir).toBe(join(process.cwd(), 'rel/dir'));
    expect(cfg.destinations).toEqual([
      expect.objectContaining({ id: 'local', type: 'local_workspace', queue: expect.objectContaining({ fullPolicy: 'block', fsync: 'interval' }) }),
    ]);
    expect(cfg.sources[0]).toMatchObject({ id: 'hb', type: 'heartbeat', options: { intervalMs: 60_000, category: 'Direct Agent' } });
    expect(cfg.statusIntervalMs).toBe(10_000);
  });

  it('reports every mistake at once, each with its path', () => {
    const found = problems({
      statusIntervalMs: 'soon',
      sources: {
        hb: { type: 'heartbeat', intervalMs: '5 parsecs', colour: 'red' },
        Bad: { type: 'heartbeat' },
        x: { type: 'nope' },
      },
      destinations: { out: { type: 'fake_sink', url: 'not a url', queue: { fullPolicy: 'explode' } } },
    });
    const paths = found.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'statusIntervalMs',
        'sources.Bad',
        'sources.hb.intervalMs',
        'sources.hb',
        'sources.x.type',
        'destinations.out.url',
        'destinations.out.queue.fullPolicy',
      ]),
    );
    expect(found.find((p) => p.path === 'sources.hb')?.message).toMatch(/unknown key: colour/);
    expect(found.find((p) => p.path === 'sources.x.type')?.message).toMatch(/unknown source type "nope".*heartbeat/);
    expect(found.some((p) => p.path.startsWith('sources') && p.message.includes('lower-case'))).toBe(true);
  });

  it('validates processors by their own schema', () => {
    const found = problems({ sources: { hb: { type: 'heartbeat', processors: [{ type: 'filter', exclude: { RawData: '(' } }, { type: 'zap' }] } } });
    expect(found.map((p) => p.path)).toEqual(['sources.hb.processors[0].exclude.RawData', 'sources.hb.processors[1].type']);
  });

  it('rejects unknown tables in a destination filter', () => {
    const found = problems({ destinations: { local: { type: 'local_workspace', tables: ['Heartbeat', 'NotATable'] } } });
    expect(found).toEqual([{ path: 'destinations.local.tables[1]', message: expect.stringMatching(/standard table/) }]);
  });

  it('resolves secrets from the environment and files, reporting missing ones at their path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oma-cfg-'));
    writeFileSync(join(dir, 'key'), 's3cret\n');
    process.env.OMA_TEST_KEY = 'from-env';
    const ok = parseAgentConfig({ destinations: { a: { type: 'fake_sink', url: 'https://x.example', key: { file: join(dir, 'key') } }, b: { type: 'fake_sink', url: 'https://y.example', key: { env: 'OMA_TEST_KEY' } } } }, registry);
    const keys = ok.destinations.map((d) => (d.options as { key: { reveal(): string } }).key);
    expect(keys.map((k) => k.reveal())).toEqual(['s3cret', 'from-env']);
    expect(JSON.stringify(ok.destinations)).not.toContain('s3cret');
    const found = problems({ destinations: { a: { type: 'fake_sink', url: 'https://x.example', key: { env: 'OMA_TEST_MISSING_VAR' } } } });
    expect(found).toEqual([{ path: 'destinations.a.key', message: 'environment variable OMA_TEST_MISSING_VAR is not set' }]);
  });

  it('parses sizes and durations with units', () => {
    const cfg = parseAgentConfig({ shutdownTimeoutMs: '1.5s', destinations: { local: { type: 'local_workspace', queue: { maxBytes: '1GiB', segmentMaxBytes: '8MiB' } } } }, registry);
    expect(cfg.shutdownTimeoutMs).toBe(1500);
    expect(cfg.destinations[0]!.queue).toMatchObject({ maxBytes: 1024 ** 3, segmentMaxBytes: 8 * 1024 ** 2 });
    expect(problems({ destinations: { local: { type: 'local_workspace', queue: { maxBytes: '10MiB', segmentMaxBytes: '8MiB' } } } })).toEqual([
      { path: 'destinations.local.queue.maxBytes', message: 'maxBytes must hold at least two segments' },
    ]);
  });

  it('reports YAML syntax errors with line and column, and reads JSON', async () => {
    expect(() => parseConfigText('sources:\n  hb: [\n', 'f.yaml')).toThrow(/f\.yaml: not valid YAML/);
    expect(yamlProblems('sources:\n  hb: [\n')).toEqual([{ path: 'line 3, column 1', message: expect.stringMatching(/Flow sequence/) }]);
    expect(yamlProblems('dataDir: /x\nsources: a: b\n')).toEqual([{ path: 'line 2, column 10', message: expect.any(String) }]);
    expect(yamlProblems('sources:\n\thb: {}\n')).toEqual([{ path: 'line 2, column 1', message: expect.stringMatching(/[Tt]ab/) }]);
    const dir = mkdtempSync(join(tmpdir(), 'oma-cfg-'));
    const file = join(dir, 'oma.json');
    writeFileSync(file, JSON.stringify({ dataDir: dir, sources: { hb: { type: 'heartbeat' } } }));
    const cfg = await loadAgentConfig(file, registry);
    expect(cfg.file).toBe(file);
    await expect(loadAgentConfig(join(dir, 'missing.yaml'), registry)).rejects.toMatchObject({ code: 'OMA_ERR_CONFIG_INVALID' });
  });

  it('says "required" for a missing option, whatever its schema', () => {
    expect(problems({ sources: { hb: {} }, destinations: { d: { type: 'fake_sink' }, e: { type: 'local_workspace', queue: { fullPolicy: undefined } } } })).toEqual([
      { path: 'sources.hb.type', message: 'required (a string)' },
      { path: 'destinations.d.url', message: 'required (a string)' },
    ]);
    const secret = z.strictObject({ key: secretSchema, mode: z.enum(['a', 'b']), list: z.array(z.string()), one: z.literal('x') });
    const r = secret.safeParse({}, CONFIG_PARSE);
    expect(r.success).toBe(false);
    expect(zodIssues(r.error!)).toEqual([
      { path: 'key', message: 'required' },
      { path: 'mode', message: 'required (one of "a", "b")' },
      { path: 'list', message: 'required (a list)' },
      { path: 'one', message: 'required ("x")' },
    ]);
    // Wrong values keep zod's own message.
    expect(problems({ sources: { hb: { type: 'heartbeat', intervalMs: true } } })[0]!.message).not.toMatch(/required/);
  });

  it('names the key of a duplicate-key error, with the mapping that holds it', () => {
    expect(yamlProblems('dataDir: /a\ndataDir: /b\n')).toEqual([{ path: 'line 2, column 1', message: 'duplicate key "dataDir" (each key may appear once)' }]);
    expect(yamlProblems('sources:\n  hb:\n    type: heartbeat\n    type: heartbeat\n')).toEqual([
      { path: 'line 4, column 5', message: 'duplicate key "type" in sources.hb (each key may appear once)' },
    ]);
    expect(yamlProblems('sources:\n  app:\n    type: custom_log\n    processors:\n      - { type: filter, type: x }\n')).toEqual([
      { path: 'line 5, column 25', message: 'duplicate key "type" in sources.app.processors[0] (each key may appear once)' },
    ]);
    expect(yamlProblems('{"a": 1, "a": 2}')).toEqual([{ path: 'line 1, column 10', message: 'duplicate key "a" (each key may appear once)' }]);
  });

  it('skips disabled components', () => {
    const cfg = parseAgentConfig({ sources: { hb: { type: 'heartbeat', enabled: false } } }, registry);
    expect(cfg.sources).toEqual([]);
  });
});
