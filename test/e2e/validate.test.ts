import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runOma, tempDir, REPO } from './helpers.js';

describe('oma validate', () => {
  const dir = tempDir('oma-e2e-validate-');
  afterAll(() => dir.remove());

  it('accepts the shipped default config', async () => {
    const r = await runOma(['validate', '--config', join(REPO, 'config', 'oma.yaml')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Linux runs five sources of the shipped config (not the Event Log), Windows four (heartbeat, the custom
    // log, performance counters and the Event Log); elsewhere those marked `platforms` are skipped.
    const sources = process.platform === 'linux' ? 5 : process.platform === 'win32' ? 4 : 2;
    expect(r.stdout).toMatch(new RegExp(`valid \\(${sources} sources, 1 destinations\\)`));
  });

  it('prints all three mistakes with their paths and exits 2', async () => {
    const file = join(dir.path, 'bad.yaml');
    writeFileSync(
      file,
      [
        'dataDir: /tmp/x',
        'statusIntervalMs: often',
        'sources:',
        '  hb:',
        '    type: heartbeat',
        '    intervalMs: 10s',
        '  app:',
        '    type: custom_log',
        '    table: NoSuffix',
        '    filePatterns: [/var/log/app/*.log]',
        'destinations:',
        '  local:',
        '    type: local_workspace',
        '    queue:',
        '      fullPolicy: sometimes',
        '',
      ].join('\n'),
    );
    const r = await runOma(['validate', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/3 problems/);
    expect(r.stderr).toMatch(/^ {2}statusIntervalMs: /m);
    expect(r.stderr).toMatch(/^ {2}sources\.app\.table: /m);
    expect(r.stderr).toMatch(/^ {2}destinations\.local\.queue\.fullPolicy: /m);
  });

  it('warns about a file pattern that is a directory, naming the path and the entry', async () => {
    const logs = join(dir.path, 'logs');
    mkdirSync(logs, { recursive: true });
    const file = join(dir.path, 'dir-pattern.yaml');
    writeFileSync(
      file,
      [
        `dataDir: ${join(dir.path, 'data')}`,
        'sources:',
        '  app:',
        '    type: custom_log',
        '    table: AppLogs_CL',
        `    filePatterns: [${join(logs, '*.log')}, ${logs}]`,
        '',
      ].join('\n'),
    );
    const r = await runOma(['validate', '--config', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`  warning  sources.app.filePatterns[1]: ${logs} is a directory, and custom_log reads files`);
    expect(r.stdout).toMatch(/valid \(1 sources, 1 destinations\), 1 warning$/m);
  });

  it('says "required" for missing options', async () => {
    const file = join(dir.path, 'missing.yaml');
    writeFileSync(
      file,
      [
        `dataDir: ${join(dir.path, 'data')}`,
        'sources:',
        '  app:',
        '    type: custom_log',
        'destinations:',
        '  az:',
        '    type: azure_logs_ingestion',
        '    endpoint: https://my-dce.eastus-1.ingest.monitor.azure.com',
        '',
      ].join('\n'),
    );
    const r = await runOma(['validate', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ {2}sources\.app\.table: required \(a string\)$/m);
    expect(r.stderr).toMatch(/^ {2}sources\.app\.filePatterns: required \(a list\)$/m);
    expect(r.stderr).toMatch(/^ {2}destinations\.az\.dcrImmutableId: required \(a string\)$/m);
    expect(r.stderr).toMatch(/^ {2}destinations\.az\.auth: required \(a mapping\)$/m);
    expect(r.stderr).not.toMatch(/received undefined/);
  });

  it('prints a subcommand’s usage for --help and exits 0', async () => {
    const r = await runOma(['azure', 'template', '--help']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage:\n {2}oma azure template --config FILE/);
    const v = await runOma(['validate', '-h']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^Usage:\n {2}oma validate --config FILE/);
    const bad = await runOma(['validate', '--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Usage:/);
  });

  it('exits 2 for a file that is not YAML', async () => {
    const file = join(dir.path, 'broken.yaml');
    writeFileSync(file, 'sources: [\n  - {\n');
    const r = await runOma(['validate', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not valid YAML/);
    expect(r.stderr).toMatch(/^ {2}line 3, column 1: /m);

    const dup = join(dir.path, 'dup.yaml');
    writeFileSync(dup, 'sources:\n  hb:\n    type: heartbeat\n    type: heartbeat\n');
    const d = await runOma(['validate', '--config', dup]);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/^ {2}line 4, column 5: duplicate key "type" in sources\.hb/m);
  });
});
