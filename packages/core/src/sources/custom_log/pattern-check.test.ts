import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filePatternWarnings } from './pattern-check.js';

const dir = mkdtempSync(join(tmpdir(), 'oma-pattern-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'app'));
writeFileSync(join(dir, 'app', 'a.log'), 'x\n');
mkdirSync(join(dir, 'app', 'old.log'));
mkdirSync(join(dir, 'app', 'archive'));
writeFileSync(join(dir, 'app', 'b.log.gz'), '');

function check(filePatterns: string[], excludePatterns: string[] = []) {
  return filePatternWarnings({ filePatterns, excludePatterns, excludeCompressed: true }, ['sources', 'app'], dir);
}

describe('filePatternWarnings', () => {
  it('warns about an entry that is a directory, naming the path and the entry', async () => {
    expect(await check([join(dir, 'app', 'a.log'), join(dir, 'app')])).toEqual([
      {
        path: 'sources.app.filePatterns[1]',
        message: `${join(dir, 'app')} is a directory, and custom_log reads files: nothing would be read from it (name its files, e.g. ${join(dir, 'app', '*.log')})`,
      },
    ]);
    expect(await check(['app/'])).toEqual([{ path: 'sources.app.filePatterns[0]', message: expect.stringContaining(`${join(dir, 'app')} is a directory`) }]);
  });

  it('warns about a wildcard that matches directories, unless they are excluded', async () => {
    expect(await check(['app/*.log'])).toEqual([
      { path: 'sources.app.filePatterns[0]', message: `matches 1 directory (${join(dir, 'app', 'old.log')}), which custom_log skips: it reads files only` },
    ]);
    expect(await check(['app/*'])).toEqual([
      { path: 'sources.app.filePatterns[0]', message: expect.stringMatching(/^matches 2 directories \(.*archive, .*old\.log\)/) },
    ]);
    expect(await check(['app/*.log'], ['old.log'])).toEqual([]);
  });

  it('says nothing about files, missing paths and patterns that match nothing', async () => {
    expect(await check([join(dir, 'app', 'a.log'), join(dir, 'missing'), join(dir, 'missing', '*.log'), 'app/*.txt'])).toEqual([]);
  });
});
