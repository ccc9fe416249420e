import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** An npm package a package bundles (the Node.js runtime, koffi's Windows binary), pinned with its integrity. */
export interface RuntimeSpec {
  readonly package: string;
  readonly version: string;
  /** The registry's `dist.integrity` of the tarball (sha512). */
  readonly integrity: string;
}

function integrityOf(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/**
 * The runtime's tarball in `cacheDir`, fetched with `npm pack` when it is not there yet (npm's own
 * cache answers first, so a machine that fetched it once builds offline). The tarball is about 43 MB
 * (150 MB unpacked), which is why it is not a dependency that every `npm ci` installs. Its integrity
 * must match the pinned one.
 */
export function fetchRuntime(spec: RuntimeSpec, cacheDir: string): string {
  const file = join(cacheDir, `${spec.package.replace(/^@/, '').replace('/', '-')}-${spec.version}.tgz`);
  if (existsSync(file) && integrityOf(file) === spec.integrity) return file;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = join(cacheDir, `.pack-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    execFileSync('npm', ['pack', `${spec.package}@${spec.version}`, '--prefer-offline', '--silent', '--pack-destination', tmp], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // npm names a scoped package's tarball without the "@" and with "-" for "/" (@koromix/koffi → koromix-koffi-…).
    const packed = join(tmp, `${spec.package.replace(/^@/, '').replace('/', '-')}-${spec.version}.tgz`);
    const got = integrityOf(packed);
    if (got !== spec.integrity) throw new Error(`${spec.package}@${spec.version}: integrity ${got} does not match the pinned ${spec.integrity}`);
    renameSync(packed, file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return file;
}

/** Extracts `bin/node` and the runtime's LICENSE from the tarball into `dest` (`dest/bin/node`, `dest/LICENSE`). */
export function extractRuntime(tarball: string, dest: string): string {
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1', 'package/bin/node', 'package/LICENSE'], { stdio: 'inherit' });
  return join(dest, 'bin', 'node');
}
