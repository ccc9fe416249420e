import { stat } from 'node:fs/promises';
import { errorType } from '../../errors.js';
import { COMPRESSED_PATTERNS, type CustomLogConfig } from './config.js';
import { keyOf, MAX_DIR_ENTRIES } from './file-set.js';
import { compileExclude, compileGlob, expandGlobs, type CompiledGlob } from './glob.js';
import type { Problems } from './problems.js';

/** A regular file matching the patterns. */
export interface Matched {
  readonly path: string;
  readonly key: string;
  readonly size: number;
}

/**
 * The file patterns: expands them into the regular files they match, tells excluded and compressed
 * paths, and counts and logs a path or directory that cannot be read once per kind of failure.
 */
export class PathScanner {
  private readonly includes: readonly CompiledGlob[];
  private readonly excludes: ReadonlyArray<(path: string) => boolean>;
  private readonly compressed: ReadonlyArray<(path: string) => boolean>;
  /** Matched paths whose failure (by code) was already counted, so that a scan does not count it again. */
  private readonly reported = new Map<string, string>();
  /** The same for directories the patterns cannot list. */
  private readonly reportedDirs = new Map<string, string>();

  constructor(private readonly config: CustomLogConfig, private readonly problems: Problems) {
    const cwd = process.cwd();
    this.includes = config.filePatterns.map((p) => compileGlob(p, cwd));
    this.excludes = config.excludePatterns.map((p) => compileExclude(p, cwd));
    this.compressed = COMPRESSED_PATTERNS.map((p) => compileExclude(p, cwd));
  }

  /** Named like a compressed file (whether or not `excludeCompressed` is set). */
  isCompressed(path: string): boolean {
    return this.compressed.some((m) => m(path));
  }

  /** Matched by `excludePatterns`. */
  isExcludedByPattern(path: string): boolean {
    return this.excludes.some((m) => m(path));
  }

  excluded(path: string): boolean {
    if (this.config.excludeCompressed && this.isCompressed(path)) return true;
    return this.isExcludedByPattern(path);
  }

  /** Regular files matching the patterns now, one per identity (hard links collapse). */
  async matchedFiles(): Promise<Matched[]> {
    const paths = await expandGlobs(this.includes, ({ path, err }) => this.reportDir(path, err));
    paths.sort();
    const current = new Set(paths);
    for (const path of this.reported.keys()) if (!current.has(path)) this.reported.delete(path);
    const out: Matched[] = [];
    const keys = new Set<string>();
    for (const path of paths) {
      if (this.excluded(path)) continue;
      try {
        const st = await stat(path, { bigint: true });
        if (!st.isFile()) {
          const code = st.isDirectory() ? 'EISDIR' : 'ENOTFILE';
          this.reportPath(path, Object.assign(new Error('not a regular file'), { code }), 'scan');
          continue;
        }
        const key = keyOf(st.dev, st.ino);
        if (keys.has(key)) continue;
        keys.add(key);
        out.push({ path, key, size: Number(st.size) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.reportPath(path, err, 'scan');
      }
    }
    return out;
  }

  /** Counts and logs a path's failure once per kind of failure, until it is opened or no longer matches. */
  reportPath(path: string, err: unknown, stage: string): void {
    const code = errorType(err);
    if (this.reported.get(path) === code) return;
    this.reported.set(path, code);
    this.problems.countError(err, stage);
    this.problems.warn(`path:${code}`, { err, path }, 'matched path cannot be read; skipping it');
  }

  /** The path was opened: a failure of it is reported again. */
  opened(path: string): void {
    this.reported.delete(path);
  }

  private reportDir(dir: string, err: unknown): void {
    const code = errorType(err);
    if (this.reportedDirs.get(dir) === code) return;
    if (this.reportedDirs.size >= MAX_DIR_ENTRIES) this.reportedDirs.clear();
    this.reportedDirs.set(dir, code);
    this.problems.countError(err, 'scan');
    this.problems.warn(`dir:${code}`, { err, path: dir }, 'directory of a file pattern cannot be listed; skipping it');
  }
}
