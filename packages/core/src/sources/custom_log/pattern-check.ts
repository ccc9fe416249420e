import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ConfigIssue } from '../../errors.js';
import { formatPath } from '../../config/issues.js';
import { COMPRESSED_PATTERNS, type CustomLogConfig } from './config.js';
import { compileExclude, compileGlob, expandGlobs, hasWildcard } from './glob.js';

/** Directories named in one warning at most. */
const MAX_NAMED_DIRECTORIES = 3;

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * What `oma validate` can tell about a custom_log source's `filePatterns` on this machine, beyond the
 * schema: an entry that names a directory (custom_log reads files: nothing would be read from it, and
 * the agent would only warn at run time), or a wildcard that matches directories (skipped at run time).
 * Missing paths are no problem (files may appear later). `base` is the source's config path, e.g.
 * `['sources', 'app']`; the warnings carry the path of the entry, e.g. `sources.app.filePatterns[0]`.
 * Relative patterns are resolved against `cwd`, as the source does.
 */
export async function filePatternWarnings(
  config: Pick<CustomLogConfig, 'filePatterns' | 'excludePatterns' | 'excludeCompressed'>,
  base: ReadonlyArray<PropertyKey>,
  cwd: string = process.cwd(),
): Promise<ConfigIssue[]> {
  const excludes = [...config.excludePatterns, ...(config.excludeCompressed ? COMPRESSED_PATTERNS : [])].map((p) => compileExclude(p, cwd));
  const out: ConfigIssue[] = [];
  for (const [i, pattern] of config.filePatterns.entries()) {
    const path = formatPath([...base, 'filePatterns', i]);
    if (!hasWildcard(pattern)) {
      const abs = resolve(cwd, pattern);
      if (await isDirectory(abs)) {
        out.push({
          path,
          message: `${abs} is a directory, and custom_log reads files: nothing would be read from it (name its files, e.g. ${join(abs, '*.log')})`,
        });
      }
      continue;
    }
    const dirs: string[] = [];
    for (const match of (await expandGlobs([compileGlob(pattern, cwd)], () => {})).sort()) {
      if (excludes.some((m) => m(match))) continue;
      if (await isDirectory(match)) dirs.push(match);
    }
    if (dirs.length > 0) {
      const named = dirs.slice(0, MAX_NAMED_DIRECTORIES).join(', ');
      const more = dirs.length > MAX_NAMED_DIRECTORIES ? ` and ${dirs.length - MAX_NAMED_DIRECTORIES} more` : '';
      out.push({
        path,
        message: `matches ${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'} (${named}${more}), which custom_log skips: it reads files only`,
      });
    }
  }
  return out;
}
