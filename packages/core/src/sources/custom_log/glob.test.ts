import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileExclude, compileGlob, expandGlobs, segmentRegExp, type GlobError } from './glob.js';

describe('segmentRegExp', () => {
  it('* matches any run, ? one character, everything else literally', () => {
    const re = segmentRegExp('app-??.log*', false);
    expect(re.test('app-01.log')).toBe(true);
    expect(re.test('app-01.log.1')).toBe(true);
    expect(re.test('app-1.log')).toBe(false);
    expect(re.test('appx01.log')).toBe(false);
    expect(segmentRegExp('a.b', false).test('axb')).toBe(false);
    expect(segmentRegExp('(x)+[y]', false).test('(x)+[y]')).toBe(true);
    expect(segmentRegExp('*.LOG', true).test('a.log')).toBe(true);
  });
});

describe('compileGlob', () => {
  it('splits off the literal base directory and resolves relative patterns', () => {
    const g = compileGlob('/var/log/app*/x/*.log');
    expect(g.base).toBe(join('/', 'var', 'log'));
    expect(g.segments).toHaveLength(3);
    expect(compileGlob('logs/a.log', '/srv').base).toBe(join('/srv', 'logs'));
  });
});

describe('compileExclude', () => {
  it('matches file names without a separator, whole paths with one', () => {
    const gz = compileExclude('*.gz');
    expect(gz(`${sep}x${sep}app.log.1.gz`)).toBe(true);
    expect(gz(`${sep}x.gz${sep}app.log`)).toBe(false);
    const full = compileExclude('/var/log/**/debug-*.log');
    expect(full('/var/log/debug-1.log')).toBe(true);
    expect(full('/var/log/a/b/debug-1.log')).toBe(true);
    expect(full('/var/log/a/b/info-1.log')).toBe(false);
    expect(full('/var/lib/debug-1.log')).toBe(false);
    const one = compileExclude('/var/log/*/x.log');
    expect(one('/var/log/a/x.log')).toBe(true);
    expect(one('/var/log/a/b/x.log')).toBe(false);
    expect(compileExclude('sub/*.log', '/srv')('/srv/sub/a.log')).toBe(true);
  });
});

describe('expandGlobs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'oma-glob-'));
    for (const p of ['a/app.log', 'a/app.log.1', 'a/other.txt', 'b/app.log', 'b/deep/c/app.log', 'bb/app.log', 'top.log']) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), 'x\n');
    }
    mkdirSync(join(dir, 'a', 'dir.log'));
  });
  afterAll(() => {
    chmodSync(join(dir, 'b'), 0o755);
    rmSync(dir, { recursive: true, force: true });
  });

  const rel = (paths: string[]): string[] => paths.map((p) => p.slice(dir.length + 1).split(sep).join('/')).sort();
  const candidates = async (...patterns: string[]): Promise<string[]> =>
    rel(await expandGlobs(patterns.map((p) => compileGlob(p, dir)), () => undefined));
  const expand = async (...patterns: string[]): Promise<string[]> =>
    (await candidates(...patterns)).filter((p) => existsSync(join(dir, p)));

  it('expands wildcards in file names and directories', async () => {
    expect(await expand('a/app.log*')).toEqual(['a/app.log', 'a/app.log.1']);
    expect(await expand('*/app.log')).toEqual(['a/app.log', 'b/app.log', 'bb/app.log']);
    expect(await expand('?/app.log')).toEqual(['a/app.log', 'b/app.log']);
    expect(await expand('a/*.log')).toEqual(['a/app.log', 'a/dir.log']);
  });

  it('** matches any number of directories, including none', async () => {
    expect(await expand('**/app.log')).toEqual(['a/app.log', 'b/app.log', 'b/deep/c/app.log', 'bb/app.log']);
    expect(await expand('b/**/app.log')).toEqual(['b/app.log', 'b/deep/c/app.log']);
  });

  it('passes literal paths through (the caller stats them) and deduplicates', async () => {
    expect(await candidates('top.log', 'missing.log', '*.log')).toEqual(['missing.log', 'top.log']);
    expect(await candidates('nodir/*.log')).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)('reports a directory it cannot list (root can list everything)', async () => {
    chmodSync(join(dir, 'b'), 0o000);
    const errors: GlobError[] = [];
    await expandGlobs([compileGlob('b/*.log', dir)], (e) => errors.push(e));
    chmodSync(join(dir, 'b'), 0o755);
    expect(errors.map((e) => e.err.code)).toEqual(['EACCES']);
  });
});
