/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, and self time
 * grouped by where the code lives (the project's packages by file, Node's internals, dependencies, V8
 * builtins, GC, idle, program).
 *
 * Usage: `node dist/cpu-profile-summary.js FILE.cpuprofile [TOP]`
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based. */
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

/** The parts of the `.cpuprofile` format (Chrome DevTools protocol `Profiler.Profile`) used here. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** Microseconds. */
  readonly startTime: number;
  readonly endTime: number;
  /** Node id of each sample. */
  readonly samples: readonly number[];
  /** Microseconds between a sample and the one before it (the first: since startTime). */
  readonly timeDeltas: readonly number[];
}

export type Category = 'ours' | 'node' | 'dependencies' | 'builtins' | 'gc' | 'idle' | 'program';

const CATEGORY_LABEL: Record<Category, string> = {
  ours: 'our code (package: file)',
  node: 'Node internals',
  dependencies: 'dependencies',
  builtins: 'V8 builtins and native (no script)',
  gc: 'garbage collector',
  idle: 'idle',
  program: 'program (native, outside JS)',
};

/** Where a function lives: its category, a group inside it, and a short location for display. */
export interface Place {
  readonly category: Category;
  readonly group: string;
  readonly location: string;
}

export interface FunctionTime {
  readonly name: string;
  /** Short url and 1-based line. */
  readonly location: string;
  readonly category: Category;
  readonly selfMs: number;
}

export interface GroupTime {
  readonly category: Category;
  readonly group: string;
  readonly selfMs: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Every function by self time, largest first. */
  readonly functions: readonly FunctionTime[];
  /** Self time by category, largest first. */
  readonly categories: readonly { readonly category: Category; readonly selfMs: number }[];
  /** Self time by group (package and file, module, dependency), largest first. */
  readonly groups: readonly GroupTime[];
}

/** Categories whose groups are listed under them. */
const GROUPED: ReadonlySet<Category> = new Set(['ours', 'node', 'dependencies']);

const SPECIAL: Record<string, Category> = {
  '(garbage collector)': 'gc',
  '(idle)': 'idle',
  '(program)': 'program',
  '(root)': 'program',
};

/** Strips a compiled file's `dist/` or `src/` prefix. */
function sourceFile(rest: string): string {
  return rest.replace(/^(?:dist|src)\//, '');
}

/** Classifies a call frame by its function name and script url. */
export function placeOf(frame: CallFrame): Place {
  const special = SPECIAL[frame.functionName];
  if (special && frame.url === '') return { category: special, group: frame.functionName, location: '' };
  const url = frame.url;
  if (url === '') return { category: 'builtins', group: '(native)', location: '(native)' };
  if (url.startsWith('node:')) return { category: 'node', group: url, location: url };
  // WebAssembly modules (undici's HTTP parser) have no file.
  if (url.startsWith('wasm:')) return { category: 'dependencies', group: 'WebAssembly', location: url };
  let path = url;
  if (url.startsWith('file:')) {
    try {
      path = fileURLToPath(url);
    } catch {
      path = url;
    }
  }
  path = path.replace(/\\/g, '/');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = path.slice(nm + '/node_modules/'.length).split('/');
    const pkgParts = parts[0]?.startsWith('@') ? 2 : 1;
    const pkg = parts.slice(0, pkgParts).join('/');
    const rest = parts.slice(pkgParts).join('/');
    if (pkg.startsWith('@oma/')) {
      const file = sourceFile(rest);
      return { category: 'ours', group: `${pkg.slice(5)}: ${file}`, location: `${pkg.slice(5)}/${file}` };
    }
    return { category: 'dependencies', group: pkg, location: `${pkg}/${rest}` };
  }
  const m = /\/(?:packages|tools|native)\/([^/]+)\/(.+)$/.exec(path);
  if (m) {
    const file = sourceFile(m[2]!);
    return { category: 'ours', group: `${m[1]!}: ${file}`, location: `${m[1]!}/${file}` };
  }
  return { category: 'dependencies', group: basename(path), location: basename(path) };
}

/** Self time of every sample: the time until the next sample (the last: until endTime). */
export function summarizeCpuProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  const stamps: number[] = [];
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    stamps.push(t);
  }
  for (let i = 0; i < profile.samples.length; i++) {
    const next = i + 1 < stamps.length ? stamps[i + 1]! : profile.endTime;
    const us = Math.max(0, next - stamps[i]!);
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  }

  const functions = new Map<string, { name: string; location: string; category: Category; us: number }>();
  const groups = new Map<string, { category: Category; group: string; us: number }>();
  const categories = new Map<Category, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame ?? { functionName: '(unknown)', url: '', lineNumber: -1 };
    const place = placeOf(frame);
    totalUs += us;
    const name = frame.functionName || '(anonymous)';
    const location = place.location && frame.lineNumber >= 0 ? `${place.location}:${frame.lineNumber + 1}` : place.location;
    const fnKey = `${name}\u0000${location}`;
    const fn = functions.get(fnKey) ?? { name, location, category: place.category, us: 0 };
    fn.us += us;
    functions.set(fnKey, fn);
    const groupKey = `${place.category}\u0000${place.group}`;
    const group = groups.get(groupKey) ?? { category: place.category, group: place.group, us: 0 };
    group.us += us;
    groups.set(groupKey, group);
    categories.set(place.category, (categories.get(place.category) ?? 0) + us);
  }
  const ms = (us: number): number => us / 1000;
  return {
    totalMs: ms(totalUs),
    functions: [...functions.values()].sort((a, b) => b.us - a.us).map((f) => ({ name: f.name, location: f.location, category: f.category, selfMs: ms(f.us) })),
    categories: [...categories.entries()].sort((a, b) => b[1] - a[1]).map(([category, us]) => ({ category, selfMs: ms(us) })),
    groups: [...groups.values()].sort((a, b) => b.us - a.us).map((g) => ({ category: g.category, group: g.group, selfMs: ms(g.us) })),
  };
}

/** The summary as text: top functions, then categories with their largest groups; % of all sampled time and of busy (not idle) time. */
export function formatSummary(s: ProfileSummary, top = 25, groupsPerCategory = 12): string {
  const idle = s.categories.find((c) => c.category === 'idle')?.selfMs ?? 0;
  const busy = s.totalMs - idle;
  const share = (v: number, of: number): string => (of > 0 ? `${((100 * v) / of).toFixed(1)}%` : '-');
  const cells = (v: number, category: Category): string => `${v.toFixed(1)} | ${share(v, s.totalMs)} | ${category === 'idle' ? '' : share(v, busy)}`;
  const lines: string[] = [];
  lines.push(`profile: ${s.totalMs.toFixed(1)} ms sampled, ${busy.toFixed(1)} ms busy (not idle)`);
  lines.push('', `top ${top} functions by self time`, '| self ms | % | % busy | function | location |', '| ---: | ---: | ---: | --- | --- |');
  for (const f of s.functions.slice(0, top)) lines.push(`| ${cells(f.selfMs, f.category)} | ${f.name} | ${f.location} |`);
  lines.push('', 'self time by category', '| self ms | % | % busy | category / group |', '| ---: | ---: | ---: | --- |');
  for (const c of s.categories) {
    lines.push(`| ${cells(c.selfMs, c.category)} | **${CATEGORY_LABEL[c.category]}** |`);
    if (!GROUPED.has(c.category)) continue;
    const inCategory = s.groups.filter((g) => g.category === c.category);
    for (const g of inCategory.slice(0, groupsPerCategory)) lines.push(`| ${cells(g.selfMs, c.category)} | &nbsp;&nbsp;${g.group} |`);
    if (inCategory.length > groupsPerCategory) {
      const rest = inCategory.slice(groupsPerCategory).reduce((sum, g) => sum + g.selfMs, 0);
      lines.push(`| ${cells(rest, c.category)} | &nbsp;&nbsp;${inCategory.length - groupsPerCategory} more |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function readCpuProfile(file: string): CpuProfile {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<CpuProfile>;
  if (!Array.isArray(parsed.nodes) || !Array.isArray(parsed.samples) || !Array.isArray(parsed.timeDeltas)) {
    throw new Error(`${file} is not a V8 CPU profile (nodes, samples, timeDeltas)`);
  }
  return parsed as CpuProfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/cpu-profile-summary.js FILE.cpuprofile [TOP]\n');
    process.exitCode = 2;
  } else {
    try {
      process.stdout.write(formatSummary(summarizeCpuProfile(readCpuProfile(file)), top ? Number(top) : 25));
    } catch (err) {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
