import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/** The parts of a package.json the closure reads. */
interface Manifest {
  readonly name: string;
  readonly version?: string;
  readonly main?: string;
  readonly files?: readonly string[];
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly workspaces?: readonly string[];
  readonly nx?: { readonly tags?: readonly string[] };
}

/** One package of the production closure: where it is in the repository and where it goes under lib/. */
export interface ClosureEntry {
  readonly name: string;
  /** Real directory in the repository. */
  readonly source: string;
  /** Directory relative to the package's lib/ folder, e.g. `node_modules/@oma/cli`. */
  readonly target: string;
  /** A package of this repository (npm workspace), copied as built (dist, bin, native builds), not whole. */
  readonly workspace: boolean;
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** The workspace package directories of the repository at `repo` (the root package.json's `workspaces` globs of the form `dir/*`). */
export function workspaceDirs(repo: string): string[] {
  const out: string[] = [];
  for (const pattern of readManifest(repo).workspaces ?? []) {
    if (pattern.endsWith('/*')) {
      const parent = join(repo, pattern.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const d of readdirSync(parent, { withFileTypes: true })) {
        if (d.isDirectory() && existsSync(join(parent, d.name, 'package.json'))) out.push(join(parent, d.name));
      }
    } else if (existsSync(join(repo, pattern, 'package.json'))) {
      out.push(join(repo, pattern));
    }
  }
  return out;
}

export interface ClosureOptions {
  /** Repository root (holds the root package.json and node_modules). */
  readonly repo: string;
  /** Package names to start from (workspace packages). */
  readonly roots: readonly string[];
  /** Workspace packages with one of these nx tags are left out, with what only they need (e.g. `os:windows`). */
  readonly excludeTags: readonly string[];
}

/**
 * The production dependency closure of `roots`, resolved the way Node resolves them from each
 * package's real directory (its own node_modules, then each parent's). Each package keeps its place
 * relative to the node_modules folder it was found in, so that the copied tree resolves the same
 * versions: `<repo>/node_modules/a/node_modules/b` goes to `node_modules/a/node_modules/b`, and a
 * workspace package `<repo>/packages/cli` (found through the `node_modules/@oma/cli` link) goes to
 * `node_modules/@oma/cli`, its own node_modules beneath it. Dependencies and installed optional and
 * peer dependencies are followed; devDependencies are not. A missing required dependency throws.
 */
export function productionClosure(opts: ClosureOptions): ClosureEntry[] {
  const repo = realpathSync(opts.repo);
  const workspaces = new Map<string, string>(); // real dir -> package name
  for (const dir of workspaceDirs(repo)) workspaces.set(realpathSync(dir), readManifest(dir).name);

  const entries = new Map<string, ClosureEntry>(); // real dir -> entry
  const targetOf = (real: string): string => {
    const ws = workspaces.get(real);
    if (ws !== undefined) return join('node_modules', ws);
    // Nested under the nearest enclosing root: a workspace package or the repository.
    let base = dirname(real);
    for (;;) {
      const owner = workspaces.get(base);
      if (owner !== undefined || base === repo) {
        const rel = relative(base, real);
        if (!rel.startsWith(`node_modules${sep}`)) throw new Error(`${real} is not in a node_modules folder of ${base}`);
        return owner === undefined ? rel : join('node_modules', owner, rel);
      }
      const up = dirname(base);
      if (up === base) throw new Error(`${real} is outside the repository ${repo}`);
      base = up;
    }
  };
  const excluded = (real: string): boolean => {
    if (!workspaces.has(real)) return false;
    const tags = readManifest(real).nx?.tags ?? [];
    return tags.some((t) => opts.excludeTags.includes(t));
  };
  /** The real directory of package `name` as Node finds it from `from`, or undefined. */
  const resolveFrom = (from: string, name: string): string | undefined => {
    let dir = from;
    for (;;) {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
      const up = dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  };

  const queue: string[] = [];
  const add = (real: string): void => {
    if (entries.has(real) || excluded(real)) return;
    const m = readManifest(real);
    entries.set(real, { name: m.name, source: real, target: targetOf(real), workspace: workspaces.has(real) });
    queue.push(real);
  };
  for (const name of opts.roots) {
    const real = resolveFrom(repo, name);
    if (real === undefined) throw new Error(`package ${name} is not installed (run npm ci)`);
    add(real);
  }
  while (queue.length > 0) {
    const dir = queue.shift()!;
    const m = readManifest(dir);
    const wanted: Array<{ name: string; required: boolean }> = [
      ...Object.keys(m.dependencies ?? {}).map((name) => ({ name, required: !(name in (m.optionalDependencies ?? {})) })),
      ...Object.keys(m.optionalDependencies ?? {}).map((name) => ({ name, required: false })),
      ...Object.keys(m.peerDependencies ?? {}).map((name) => ({ name, required: false })),
    ];
    for (const dep of wanted) {
      const real = resolveFrom(dir, dep.name);
      if (real === undefined) {
        if (dep.required) throw new Error(`${m.name} needs ${dep.name}, which is not installed (run npm ci)`);
        continue;
      }
      add(real);
    }
  }
  return [...entries.values()].sort((a, b) => a.target.localeCompare(b.target));
}
