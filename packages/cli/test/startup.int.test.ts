/**
 * What each command loads at start (the built `oma`, so build first): a running agent holds only the code it
 * calls, which is most of its idle memory (docs/architecture.md#memory).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const OMA_BIN = fileURLToPath(new URL('../bin/oma.js', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'oma-startup-'));
/** Processes still running when the tests end (a failed test): killed with the temp directory. */
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

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
// It also notes the size of V8's young generation at start and at exit.
const PRELOAD = join(dir, 'preload.mjs');
writeFileSync(
  PRELOAD,
  `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const atStart = newSpace();
register(${JSON.stringify(pathToFileURL(HOOKS).href)});
process.on('exit', () => {
  const cjs = Object.keys(createRequire(import.meta.url).cache).map((p) => pathToFileURL(p).href);
  appendFileSync(process.env.OMA_TEST_MODULE_LOG, cjs.join('\\n') + '\\n#new-space ' + atStart + ' ' + newSpace() + '\\n');
});
`,
);

interface Loaded {
  readonly code: number | null;
  readonly output: string;
  /** URLs of the modules the process loaded. */
  readonly modules: readonly string[];
  /** Bytes of V8's young generation at start and at exit. */
  readonly newSpace: { readonly atStart: number; readonly atExit: number };
}

let runs = 0;

interface RunOptions {
  /** Sends SIGTERM once the output matches. */
  readonly stopWhen?: RegExp;
  readonly env?: NodeJS.ProcessEnv;
  /** Options for node itself, before the script. */
  readonly nodeArgs?: readonly string[];
}

/** Runs `oma ARGS` with the module log. */
async function loadedBy(args: string[], { stopWhen, env = {}, nodeArgs = [] }: RunOptions = {}): Promise<Loaded> {
  const log = join(dir, `modules-${++runs}.log`);
  writeFileSync(log, '');
  const child = spawn(process.execPath, [...nodeArgs, '--import', pathToFileURL(PRELOAD).href, OMA_BIN, ...args], {
    env: { ...process.env, ...env, OMA_TEST_MODULE_LOG: log, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
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
  running.delete(child);
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const [atStart = NaN, atExit = NaN] = (lines.find((l) => l.startsWith('#new-space ')) ?? '').split(' ').slice(1).map(Number);
  return { code, output, modules: lines.filter((l) => !l.startsWith('#')), newSpace: { atStart, atExit } };
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
    const r = await loadedBy(['run', '--config', agentConfig('azure', LOGS_INGESTION)], { stopWhen: /Z {2}status / });
    expect(r.output).toMatch(/OMA stopped/);
    expect(r.code).toBe(0);
    expect(matching(r, /\/core\/dist\/pipeline\//).length).toBeGreaterThan(0);
    expect(matching(r, NOT_FOR_THE_AGENT)).toEqual([]);
  });

  it('loads the local workspace and SQLite when a destination is the embedded local workspace', async () => {
    const r = await loadedBy(['run', '--config', agentConfig('local', '  local: { type: local_workspace }')], {
      stopWhen: /Z {2}status /,
    });
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

describe('V8 settings', { timeout: 30_000 }, () => {
  const noOptions = { NODE_OPTIONS: '' };

  it('keeps the young generation at its initial size', async () => {
    const r = await loadedBy(['docs', 'config'], { env: noOptions });
    // The same command with V8's default growth factor, which node's command line keeps.
    const growing = await loadedBy(['docs', 'config'], { env: noOptions, nodeArgs: ['--semi-space-growth-factor=2'] });
    expect(r.code).toBe(0);
    expect(growing.code).toBe(0);
    expect(growing.newSpace.atExit).toBeGreaterThan(growing.newSpace.atStart);
    expect(r.newSpace.atExit).toBeLessThan(growing.newSpace.atExit);
  });

  it('leaves the young generation to a semi-space size given in NODE_OPTIONS', async () => {
    const r = await loadedBy(['docs', 'config'], { env: { NODE_OPTIONS: '--max-semi-space-size=4' } });
    expect(r.code).toBe(0);
    expect(r.newSpace.atExit).toBeGreaterThan(2 * r.newSpace.atStart);
  });
});
