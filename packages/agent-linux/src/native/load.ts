import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AgentError } from '@oma/core';

/** The native addons of the Linux agent, each an npm workspace package under `native/<name>`. */
export type AddonName = 'unixdgram' | 'journal';

const require = createRequire(import.meta.url);
const loaded = new Map<AddonName, unknown>();

/**
 * The one place the Linux agent loads native code. Looks for the addon's build in its package
 * (`native/<name>`): `build/Release/<name>.node`, then `prebuilds/linux-<arch>/<name>.node`. Only a
 * missing file falls through to the next place; a file that exists but fails to load (wrong Node ABI,
 * a missing shared library) is reported as it is. The error names every path tried and how to build.
 * Loaded once per process; the result is typed by the caller's adapter.
 */
export function loadAddon<T>(name: AddonName): T {
  const hit = loaded.get(name);
  if (hit !== undefined) return hit as T;
  if (process.platform !== 'linux') {
    throw new AgentError('OMA_ERR_NATIVE_LOAD', `native addon ${name} is for Linux; this is ${process.platform}`);
  }
  const pkg = `@oma/native-${name}`;
  let root: string;
  try {
    root = dirname(require.resolve(`${pkg}/package.json`));
  } catch (cause) {
    throw new AgentError('OMA_ERR_NATIVE_LOAD', `native addon ${name}: package ${pkg} is not installed`, { cause });
  }
  const tried = [join(root, 'build', 'Release', `${name}.node`), join(root, 'prebuilds', `linux-${process.arch}`, `${name}.node`)];
  for (const file of tried) {
    try {
      const mod = require(file) as T;
      loaded.set(name, mod);
      return mod;
    } catch (cause) {
      if (isNotFound(cause, file)) continue;
      throw new AgentError('OMA_ERR_NATIVE_LOAD', `native addon ${name}: ${file} failed to load: ${(cause as Error).message}`, { cause });
    }
  }
  throw new AgentError(
    'OMA_ERR_NATIVE_LOAD',
    `native addon ${name} is not built (tried ${tried.join(', ')}); build it with \`npm run build -w ${pkg}\` (needs python3, make and g++)`,
  );
}

/** True when loading `file` failed because the file itself does not exist (not one of its dependencies). */
function isNotFound(err: unknown, file: string): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'MODULE_NOT_FOUND') return true;
  // dlopen of a missing file: "…/x.node: cannot open shared object file: No such file or directory"
  const msg = (err as Error | undefined)?.message ?? '';
  return code === 'ERR_DLOPEN_FAILED' && msg.startsWith(`${file}:`) && msg.includes('No such file or directory');
}
