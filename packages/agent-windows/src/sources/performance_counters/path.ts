/**
 * Counter paths as PDH writes them (MS-PLA 2.2.10, "Performance Counter Path"):
 *
 *     \\Machine\Object(Parent/Instance#Index)\Counter
 *
 * The machine is optional (the local computer); the instance part is there only for an object that
 * has instances (`Memory` has none), its parent only for objects whose instances belong to another
 * object's (`Thread(explorer/0)`), its index only to tell apart instances of the same name (`#1` is the
 * second; the first has none). `*` is a wildcard. Object names may hold `$` and `:`
 * (`MSSQL$INST:Buffer Manager`); counter names hold `/`, `%` and `.`.
 */
export interface CounterPath {
  /** The computer, without its leading `\\`; undefined for the local one. */
  readonly machine?: string;
  readonly object: string;
  /** The parent instance (`explorer` in `Thread(explorer/0)`). */
  readonly parent?: string;
  /** The instance (`_Total`, `C:`, `*`); undefined when the path has no instance part. */
  readonly instance?: string;
  /** The instance index (`1` in `svchost#1`). */
  readonly index?: number;
  readonly counter: string;
}

/** The index of the `open` that matches the `close` at `end`, counting nested pairs; -1 when unbalanced. */
function matchingOpen(s: string, end: number): number {
  let depth = 0;
  for (let i = end; i >= 0; i--) {
    if (s[i] === ')') depth++;
    else if (s[i] === '(' && --depth === 0) return i;
  }
  return -1;
}

/** The last `\` outside parentheses, scanning from the end; -1 when there is none. */
function lastSeparator(s: string): number {
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const ch = s[i];
    if (ch === ')') depth++;
    else if (ch === '(') depth--;
    else if (ch === '\\' && depth === 0) return i;
  }
  return -1;
}

function parseInstance(text: string): Pick<CounterPath, 'parent' | 'instance' | 'index'> | undefined {
  let rest = text;
  let parent: string | undefined;
  let index: number | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    parent = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
    if (!parent) return undefined;
  }
  const hash = /#(\d+)$/.exec(rest);
  if (hash) {
    index = Number(hash[1]);
    rest = rest.slice(0, hash.index);
  }
  if (!rest) return undefined;
  return { ...(parent === undefined ? {} : { parent }), instance: rest, ...(index === undefined ? {} : { index }) };
}

/**
 * Parses a counter path or a data collection rule's counter specifier. Accepts what MMA accepted:
 * a leading `\` or none (`Memory\Available MBytes`), a machine (`\\HOST\Memory\…`), and `&amp;` for
 * `&` (DCRs written as XML-escaped text). Parentheses inside an instance name are matched in pairs,
 * as PDH matches them (`\Process(my (app))\…` is instance `my (app)`); providers usually report
 * `(` and `)` in instance names as `[` and `]`. Undefined when the text is not a counter path.
 */
export function parseCounterPath(text: string): CounterPath | undefined {
  let s = text.replace(/&amp;/g, '&').trim();
  let machine: string | undefined;
  if (s.startsWith('\\\\')) {
    const end = s.indexOf('\\', 2);
    if (end <= 2) return undefined;
    machine = s.slice(2, end);
    s = s.slice(end);
  }
  if (s.startsWith('\\')) s = s.slice(1);
  else if (machine !== undefined) return undefined;
  const sep = lastSeparator(s);
  if (sep <= 0) return undefined;
  const counter = s.slice(sep + 1);
  let object = s.slice(0, sep);
  if (!counter.trim()) return undefined;
  let instance: ReturnType<typeof parseInstance> = {};
  if (object.endsWith(')')) {
    const open = matchingOpen(object, object.length - 1);
    if (open <= 0) return undefined;
    instance = parseInstance(object.slice(open + 1, -1));
    if (!instance) return undefined;
    object = object.slice(0, open);
  }
  if (!object.trim() || /[\\()]/.test(object)) return undefined;
  return { ...(machine === undefined ? {} : { machine }), object, ...instance, counter };
}

/** Writes a path back: `\\Machine\Object(Parent/Instance#Index)\Counter`, each part only when it is set. */
export function formatCounterPath(p: CounterPath): string {
  const machine = p.machine === undefined ? '' : `\\\\${p.machine}`;
  let instance = '';
  if (p.instance !== undefined) {
    const parent = p.parent === undefined ? '' : `${p.parent}/`;
    const index = p.index === undefined ? '' : `#${p.index}`;
    instance = `(${parent}${p.instance}${index})`;
  }
  return `${machine}\\${p.object}${instance}\\${p.counter}`;
}

/** Whether the path's instance is a wildcard (`*`, `svc*`): read with the array API, its instances change between collections. */
export function hasInstanceWildcard(p: CounterPath): boolean {
  return p.instance?.includes('*') === true || p.parent?.includes('*') === true;
}

/**
 * The Perf table's CounterPath column as MMA wrote it: `\\COMPUTER\Object(Instance)\Counter`, with
 * no instance part for a counter of a single-instance object (`\\COMPUTER\Memory\Available MBytes`).
 */
export function perfCounterPath(computer: string, object: string, instance: string, counter: string): string {
  return formatCounterPath(instance === '' ? { machine: computer, object, counter } : { machine: computer, object, instance, counter });
}
