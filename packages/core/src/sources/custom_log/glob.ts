import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, isAbsolute, join, parse, resolve } from 'node:path';
import { WINDOWS_FS } from '../../platform/host-os.js';

/**
 * File patterns: `*` matches any run of characters within one path segment, `?` one character, and a
 * segment that is exactly `**` any number of directories (including none). Wildcards may appear in
 * directory segments and in the file name. Matching is case-insensitive on Windows.
 */

/** Directory levels `**` descends at most (also guards against very deep trees). */
export const MAX_GLOBSTAR_DEPTH = 16;

const GLOBSTAR = Symbol('globstar');
type Segment = string | RegExp | typeof GLOBSTAR;

export interface CompiledGlob {
  /** The pattern as configured. */
  readonly pattern: string;
  /** The longest directory prefix without wildcards. */
  readonly base: string;
  readonly segments: readonly Segment[];
}

function splitSegments(p: string): string[] {
  return p.split(WINDOWS_FS ? /[\\/]+/ : /\/+/).filter((s) => s.length > 0);
}

export function hasWildcard(s: string): boolean {
  return s.includes('*') || s.includes('?');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');
}

function segmentSource(segment: string, anyChar: string): string {
  let src = '';
  for (const ch of segment) {
    if (ch === '*') src += `${anyChar}*`;
    else if (ch === '?') src += anyChar;
    else src += escapeRegExp(ch);
  }
  return src;
}

/** Regular expression for one segment (no separators inside). */
export function segmentRegExp(segment: string, caseInsensitive = WINDOWS_FS): RegExp {
  return new RegExp(`^${segmentSource(segment, '.')}$`, caseInsensitive ? 'is' : 's');
}

/** Compiles a pattern, resolving a relative one against `cwd`. */
export function compileGlob(pattern: string, cwd: string = process.cwd()): CompiledGlob {
  const abs = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
  const root = parse(abs).root;
  const parts = splitSegments(abs.slice(root.length));
  let base = root;
  let i = 0;
  for (; i < parts.length - 1; i++) {
    const part = parts[i]!;
    if (hasWildcard(part)) break;
    base = join(base, part);
  }
  const segments: Segment[] = parts.slice(i).map((part) => {
    if (part === '**') return GLOBSTAR;
    return hasWildcard(part) ? segmentRegExp(part) : part;
  });
  return { pattern, base, segments };
}

/**
 * Matcher for exclusions. A pattern without a directory separator matches file names; one with a
 * separator matches whole paths (relative patterns resolved against `cwd`).
 */
export function compileExclude(pattern: string, cwd: string = process.cwd()): (path: string) => boolean {
  const hasSeparator = WINDOWS_FS ? /[\\/]/.test(pattern) : pattern.includes('/');
  if (!hasSeparator) {
    const re = segmentRegExp(pattern);
    return (path) => re.test(basename(path));
  }
  const abs = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
  const root = parse(abs).root;
  const parts = splitSegments(abs.slice(root.length));
  const sep = WINDOWS_FS ? '[\\\\/]' : '/';
  const notSep = WINDOWS_FS ? '[^\\\\/]' : '[^/]';
  const unc = /^[\\/]{2}/.test(root) ? `${sep}${sep}` : '';
  let src = unc + splitSegments(root).map(escapeRegExp).join(sep) + (root.length > 0 ? sep : '');
  parts.forEach((part, k) => {
    const last = k === parts.length - 1;
    if (part === '**') src += last ? '.*' : `(?:.*${sep})?`;
    else src += segmentSource(part, notSep) + (last ? '' : sep);
  });
  const re = new RegExp(`^${src}$`, WINDOWS_FS ? 'is' : 's');
  return (path) => re.test(path);
}

export interface GlobError {
  readonly path: string;
  readonly err: NodeJS.ErrnoException;
}

/**
 * Expands patterns to candidate paths. Wildcard segments are matched against directory listings;
 * literal segments are joined without a check, so a candidate may not exist: the caller stats every
 * path (and learns whether it is a regular file). Directories that cannot be listed are reported
 * through `onError` (missing ones are not an error).
 */
export async function expandGlobs(globs: readonly CompiledGlob[], onError: (e: GlobError) => void): Promise<string[]> {
  const out = new Set<string>();
  for (const g of globs) {
    await walk(g.base, g.segments, 0, 0, out, onError);
  }
  return [...out];
}

async function listDir(dir: string, onError: (e: GlobError) => void): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') onError({ path: dir, err: err as NodeJS.ErrnoException });
    return [];
  }
}

async function walk(
  dir: string,
  segments: readonly Segment[],
  i: number,
  depth: number,
  out: Set<string>,
  onError: (e: GlobError) => void,
): Promise<void> {
  if (i >= segments.length) return;
  const seg = segments[i]!;
  const last = i === segments.length - 1;
  if (typeof seg === 'string') {
    const next = join(dir, seg);
    if (last) out.add(next);
    else await walk(next, segments, i + 1, depth, out, onError);
    return;
  }
  if (seg === GLOBSTAR) {
    if (last) return; // `**` alone at the end names directories, not files
    await walk(dir, segments, i + 1, depth, out, onError);
    if (depth >= MAX_GLOBSTAR_DEPTH) return;
    for (const entry of await listDir(dir, onError)) {
      // Symbolic links to directories are not followed under `**` (no cycles).
      if (entry.isDirectory()) await walk(join(dir, entry.name), segments, i, depth + 1, out, onError);
    }
    return;
  }
  for (const entry of await listDir(dir, onError)) {
    if (!seg.test(entry.name)) continue;
    const next = join(dir, entry.name);
    if (last) out.add(next);
    else if (entry.isDirectory() || entry.isSymbolicLink()) await walk(next, segments, i + 1, depth, out, onError);
  }
}
