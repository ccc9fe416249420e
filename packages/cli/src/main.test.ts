import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './main.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `main(argv)` with stdout and stderr captured. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

describe('oma COMMAND --help', () => {
  it.each<[string[], RegExp]>([
    [['run', '--help'], /^ {2}oma run \[--config FILE\]/m],
    [['run', '-h'], /^ {2}oma run /m],
    [['validate', '--config', 'x.yaml', '--help'], /^ {2}oma validate --config FILE/m],
    [['query', '--help'], /^ {2}oma query \[TABLE\][\s\S]*--limit N/m],
    [['query', 'Heartbeat', '-h'], /^ {2}oma query /m],
    [['workspace', '--help'], /^ {2}oma workspace serve /m],
    [['workspace', 'serve', '--help'], /^ {2}oma workspace serve [\s\S]*--client-id/m],
    [['gateway', '--help'], /^ {2}oma gateway /m],
    [['docs', 'config', '--help'], /^ {2}oma docs config /m],
    [['docs', '-h'], /^ {2}oma docs config /m],
    [['version', '--help'], /^ {2}oma version/m],
    [['azure', '--help'], /^ {2}oma azure template --config FILE[\s\S]*--destination ID/m],
    [['azure', 'template', '--help'], /^ {2}oma azure template [\s\S]*--out FILE/m],
    [['azure', 'template', '--config', 'x.yaml', '-h'], /^ {2}oma azure template /m],
    [['help', 'query'], /^ {2}oma query /m],
    [['help', 'azure'], /^ {2}oma azure template /m],
  ])('%j prints that command’s usage on stdout and exits 0', async (argv, usage) => {
    const r = await run(...argv);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage:\n/);
    expect(r.stdout).toMatch(usage);
  });

  it('prints only the usage of the command asked for', async () => {
    const r = await run('gateway', '--help');
    expect(r.stdout).toMatch(/oma gateway/);
    expect(r.stdout).not.toMatch(/oma query|oma run|oma workspace/);
    const w = await run('workspace', 'serve', '-h');
    expect(w.stdout).toMatch(/oma workspace serve/);
    expect(w.stdout).not.toMatch(/oma gateway|oma query/);
  });

  it('prints the whole usage for oma --help and oma help', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await run(...argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/oma run[\s\S]*oma validate[\s\S]*oma azure template/);
    }
  });

  it('keeps exit 2 with the usage on stderr for unknown options and commands', async () => {
    for (const argv of [['run', '--bogus'], ['validate', '--bogus'], ['query', '--bogus'], ['workspace', 'serve', '--bogus'], ['gateway', '--bogus'], ['azure', 'template', '--bogus']]) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout, argv.join(' ')).toBe('');
      expect(r.stderr, argv.join(' ')).toMatch(/Usage:/);
    }
    for (const argv of [['bogus', '--help'], ['help', 'bogus'], ['azure', 'deploy', '--help']]) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(/unknown (sub)?command/);
    }
  });
});
