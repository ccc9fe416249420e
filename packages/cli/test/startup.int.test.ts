/**
 * What each command loads at start (the built `oma`, so build first): a running agent holds only the code it
 * calls, which is most of its idle memory (docs/architecture.md#memory).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const OMA_BIN = fileURLToPath(new URL('../bin/oma.js', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'oma-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Loaded with `node --import`: a loader hook notes every module the ES module loader loads (CommonJS
// packages imported from ES modules included), and at exit the CommonJS modules required from them.
const HOOKS = join(dir, 'hooks.mjs');
writeFileSync(
  HOOKS,
  `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.OMA_TEST_MODULE_LOG, url + '\\n');
  return next(url, context);
}
`,
);
const PRELOAD = join(dir, 'preload.mjs');
writeFileSync(
  PRELOAD,
  `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
register(${JSON.stringify(pathToFileURL(HOOKS).href)});
process.on('exit', () => {
  const cjs = Object.keys(createRequire(import.meta.url).cache).map((p) => pathToFileURL(p).href);
  appendFileSync(process.env.OMA_TEST_MODULE_LOG, cjs.join('\\n') + '\\n');
});
`,
);

interface Loaded {
  readonly code: number | null;
  readonly output: string;
  /** URLs of the modules the process loaded. */
  readonly modules: readonly string[];
}

let runs = 0;

/** Runs `oma ARGS` with the module log; with `stopWhen`, sends SIGTERM once stdout matches it. */
async function loadedBy(args: string[], stopWhen?: RegExp): Promise<Loaded> {
  const log = join(dir, `modules-${++runs}.log`);
  writeFileSync(log, '');
  const child = spawn(process.execPath, ['--import', pathToFileURL(PRELOAD).href, OMA_BIN, ...args], {
    env: { ...process.env, OMA_TEST_MODULE_LOG: log, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopping = false;
  const collect = (d: string): void => {
    output += d;
    if (!stopping && stopWhen?.test(output)) {
      stopping = true;
      child.kill('SIGTERM');
    }
  };
  child.stdout.setEncoding('utf8').on('data', collect);
  child.stderr.setEncoding('utf8').on('data', collect);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

function agentConfig(name: string, destination: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(join(dir, `${name}.log`), '');
  writeFileSync(
    file,
    [
      `dataDir: ${JSON.stringify(join(dir, `${name}-data`))}`,
      // The first status line comes after the agent set up its signal handlers: the test stops it then.
      'statusIntervalMs: 100ms',
      'observability: { enabled: false }',
      'log: { level: error }',
      'sources:',
      '  app:',
      '    type: custom_log',
      '    table: App_CL',
      `    filePatterns: [${JSON.stringify(join(dir, `${name}.log`))}]`,
      'destinations:',
      destination,
      '',
    ].join('\n'),
  );
  return file;
}

const LOGS_INGESTION = [
  '  azure:',
  '    type: azure_logs_ingestion',
  // Nothing is read from the empty file, so nothing is sent: the endpoint is never called.
  '    endpoint: http://127.0.0.1:9',
  '    dcrImmutableId: dcr-00000000000000000000000000000000',
  '    auth:',
  '      type: client_secret',
  '      tenantId: 00000000-0000-4000-8000-000000000000',
  '      clientId: 00000000-0000-4000-8000-000000000001',
  '      clientSecret: not-used',
].join('\n');

/** The modules of `pattern` among those loaded. */
function matching(l: Loaded, pattern: RegExp): string[] {
  return l.modules.filter((m) => pattern.test(m));
}

/** Modules `oma run` needs only for other commands or other configs. */
const NOT_FOR_THE_AGENT = /\/(local-workspace|gateway)\/dist\/|\/node_modules\/(better-sqlite3|jose|pino-pretty)\/|\/cli\/dist\/commands\/(query|workspace|gateway|docs|azure)\.js$/;

describe('what oma loads', { timeout: 30_000 }, () => {
  it('runs an agent that sends to Azure without the local workspace, the gateway, pino-pretty or the other commands', async () => {
    const r = await loadedBy(['run', '--config', agentConfig('azure', LOGS_INGESTION)], /Z {2}status /);
    expect(r.output).toMatch(/OMA stopped/);
    expect(r.code).toBe(0);
    expect(matching(r, /\/core\/dist\/pipeline\//).length).toBeGreaterThan(0);
    expect(matching(r, NOT_FOR_THE_AGENT)).toEqual([]);
  });

  it('loads the local workspace and SQLite when a destination is the embedded local workspace', async () => {
    const r = await loadedBy(['run', '--config', agentConfig('local', '  local: { type: local_workspace }')], /Z {2}status /);
    expect(r.output).toMatch(/local workspace: http:\/\/127\.0\.0\.1:\d+/);
    expect(r.code).toBe(0);
    expect(matching(r, /\/local-workspace\/dist\/workspace\.js$/)).toHaveLength(1);
    expect(matching(r, /\/node_modules\/better-sqlite3\//).length).toBeGreaterThan(0);
  });

  it('prints its version without loading the agent', async () => {
    const r = await loadedBy(['version']);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(matching(r, /\/core\/dist\/|\/cli\/dist\/commands\//)).toEqual([]);
  });
});
