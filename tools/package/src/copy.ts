import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { readManifest, type ClosureEntry } from './closure.js';

/** Files of a built workspace package that are not needed at run time. */
const WORKSPACE_SKIP = /(?:\.d\.ts|\.d\.ts\.map|\.tsbuildinfo|\.test\.js|\.test\.js\.map)$/;

/** The native addon builds of a package: `build/Release/*.node` only (no objects, no static libraries). */
function copyNativeBuild(from: string, to: string): void {
  const release = join(from, 'build', 'Release');
  if (!existsSync(release)) return;
  for (const f of readdirSync(release)) {
    if (!f.endsWith('.node')) continue;
    mkdirSync(join(to, 'build', 'Release'), { recursive: true });
    cpSync(join(release, f), join(to, 'build', 'Release', f));
  }
}

/**
 * Copies one package of the closure to `lib/<entry.target>`. A workspace package brings what it runs
 * (package.json, dist without declarations and tests, bin, its native builds and prebuilds, and the
 * `main` and `files` its package.json names; a glob in `files` is not expanded); a
 * dependency comes whole but for its own node_modules (those are entries of their own) and, when it
 * compiles native code (binding.gyp), its sources and intermediate build files.
 */
export function copyEntry(entry: ClosureEntry, lib: string): void {
  const to = join(lib, entry.target);
  mkdirSync(to, { recursive: true });
  if (entry.workspace) {
    for (const f of ['package.json', 'README.md', 'LICENSE']) if (existsSync(join(entry.source, f))) cpSync(join(entry.source, f), join(to, f));
    // What it builds and runs, and whatever its package.json names (`main`, `files`: an addon's JS, say).
    const manifest = readManifest(entry.source);
    const named = [...(manifest.main !== undefined ? [manifest.main] : []), ...(manifest.files ?? [])].map((f) => f.replace(/^\.\//, '').replace(/\/$/, ''));
    for (const d of new Set(['dist', 'bin', 'prebuilds', ...named])) {
      if (d === '' || d.includes('*') || d.startsWith('..') || !existsSync(join(entry.source, d))) continue;
      cpSync(join(entry.source, d), join(to, d), { recursive: true, filter: (src) => !WORKSPACE_SKIP.test(src) && !src.includes(`${sep}node_modules`) });
    }
    copyNativeBuild(entry.source, to);
    return;
  }
  const native = existsSync(join(entry.source, 'binding.gyp'));
  const skipTop = new Set(['node_modules', ...(native ? ['build', 'deps', 'src'] : [])]);
  cpSync(entry.source, to, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => {
      const rel = relative(entry.source, src);
      if (rel === '') return true;
      const top = rel.split(sep)[0]!;
      return !skipTop.has(top) && top !== '.bin';
    },
  });
  if (native) copyNativeBuild(entry.source, to);
}
