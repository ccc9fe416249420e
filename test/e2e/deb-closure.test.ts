import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from './helpers.js';

const DEB_TOOL = join(REPO, 'tools', 'package', 'dist', 'deb.js');

interface Entry {
  name: string;
  source: string;
  target: string;
  workspace: boolean;
}

/** `deb.js --list` of a repository: what would go into the package's lib/ folder. */
function list(repo: string, roots: readonly string[]): { entries: Entry[]; status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [DEB_TOOL, '--list', '--repo', repo, ...roots.flatMap((n) => ['--root', n])], { encoding: 'utf8' });
  return { entries: r.status === 0 ? (JSON.parse(r.stdout) as Entry[]) : [], status: r.status, stderr: r.stderr };
}

/** The package list of the .deb: production dependencies resolved as Node resolves them, placed so that they resolve the same. */
describe('the Linux package: production dependency closure', () => {
  const dir = tempDir('oma-deb-closure-');
  beforeAll(() => {
    if (!existsSync(DEB_TOOL)) throw new Error(`${DEB_TOOL} is not built: run the build first`);
  });
  afterAll(() => dir.remove());
  const repo = dir.path;

  const pkg = (path: string, manifest: Record<string, unknown>): void => {
    mkdirSync(join(repo, path), { recursive: true });
    writeFileSync(join(repo, path, 'package.json'), JSON.stringify(manifest));
  };
  const link = (name: string, target: string): void => {
    const at = join(repo, 'node_modules', name);
    mkdirSync(dirname(at), { recursive: true });
    symlinkSync(join(repo, target), at);
  };

  // A repository like ours: workspaces linked from node_modules/@x, hoisted and nested dependencies.
  pkg('.', { name: 'root', workspaces: ['packages/*'], devDependencies: { tsc: '1' } });
  pkg('packages/cli', { name: '@x/cli', dependencies: { '@x/core': '1', '@x/windows': '1', lib: '^2' }, devDependencies: { vitest: '1' } });
  pkg('packages/core', { name: '@x/core', dependencies: { lib: '^1', shared: '1' }, optionalDependencies: { 'native-linux': '1', 'native-darwin': '1' } });
  pkg('packages/windows', { name: '@x/windows', nx: { tags: ['os:windows'] }, dependencies: { winonly: '1' } });
  pkg('node_modules/lib', { name: 'lib', version: '2.0.0' });
  pkg('packages/core/node_modules/lib', { name: 'lib', version: '1.0.0' });
  pkg('node_modules/shared', { name: 'shared', dependencies: { lib: '^3' }, peerDependencies: { peer: '1', absent: '1' } });
  pkg('node_modules/shared/node_modules/lib', { name: 'lib', version: '3.0.0' });
  pkg('node_modules/peer', { name: 'peer' });
  pkg('node_modules/native-linux', { name: 'native-linux' });
  pkg('node_modules/winonly', { name: 'winonly' });
  pkg('node_modules/vitest', { name: 'vitest' });
  pkg('node_modules/tsc', { name: 'tsc' });
  link('@x/cli', 'packages/cli');
  link('@x/core', 'packages/core');
  link('@x/windows', 'packages/windows');

  it('follows dependencies, installed optional and peer dependencies, keeps each version where it resolves, and leaves out dev and excluded packages', () => {
    const { entries: closure, stderr } = list(repo, ['@x/cli']);
    expect(stderr).toBe('');
    expect(closure.map((e) => [e.target, e.name, e.workspace])).toEqual([
      ['node_modules/@x/cli', '@x/cli', true],
      ['node_modules/@x/core', '@x/core', true],
      ['node_modules/@x/core/node_modules/lib', 'lib', false],
      ['node_modules/lib', 'lib', false],
      ['node_modules/native-linux', 'native-linux', false],
      ['node_modules/peer', 'peer', false],
      ['node_modules/shared', 'shared', false],
      ['node_modules/shared/node_modules/lib', 'lib', false],
    ]);
    expect(closure.find((e) => e.target === 'node_modules/@x/core/node_modules/lib')!.source).toBe(join(repo, 'packages/core/node_modules/lib'));
  });

  it('fails on a missing required dependency', () => {
    pkg('packages/broken', { name: '@x/broken', dependencies: { gone: '1' } });
    link('@x/broken', 'packages/broken');
    const r = list(repo, ['@x/broken']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('package:deb: @x/broken needs gone, which is not installed (run npm ci)\n');
  });
});
