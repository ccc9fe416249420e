import { PERF_OBJECTS, type PerfObject } from './counters.js';

/**
 * A counter specifier as a data collection rule writes it: `\Object(Instance)\Counter`. The instance
 * may be left out (`\Memory\Available MBytes Memory`: every instance), so may the counter (`\Memory`,
 * `\Processor(*)`: every counter); `*` is a wildcard in each part. `&amp;` stands for `&`.
 */
export interface CounterSpecifier {
  readonly text: string;
  readonly object: string;
  readonly instance: string;
  readonly counter: string;
}

const SPECIFIER_RE = /^\\{0,2}([^\\()]+?)\s*(?:\(([^()]*)\))?\s*(?:\\(.*))?$/;

/** Parses one specifier; undefined when it does not have the `\Object(Instance)\Counter` shape. */
export function parseCounterSpecifier(text: string): CounterSpecifier | undefined {
  const m = SPECIFIER_RE.exec(text.replace(/&amp;/g, '&').trim());
  if (!m) return undefined;
  const object = m[1]!.trim();
  const counter = (m[3] ?? '*').trim();
  if (!object || !counter || counter.includes('\\')) return undefined;
  return { text, object, instance: (m[2] ?? '*').trim() || '*', counter };
}

/** Object names are compared without case and spaces (`LogicalDisk` is `Logical Disk`); the rest without case. */
function objectKey(s: string): string {
  return s.replace(/\s+/g, '').toLowerCase();
}

function counterKey(s: string): string {
  return s.replace(/\s+/g, ' ').toLowerCase();
}

function wildcard(pattern: string, key: (s: string) => string): (s: string) => boolean {
  const p = key(pattern);
  if (p === '*') return () => true;
  if (!p.includes('*')) return (s) => key(s) === p;
  const re = new RegExp(`^${p.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return (s) => re.test(key(s));
}

/** What one object collects under a selection: its counters picked, and which instances of each. */
export interface ObjectSelection {
  readonly object: PerfObject;
  /** True when `instance` of `counter` is selected. */
  wants(instance: string, counter: string): boolean;
}

/** A specifier the catalogue has nothing for, and why. */
export interface UnknownSpecifier {
  readonly index: number;
  readonly text: string;
  readonly message: string;
}

export interface Selection {
  readonly objects: readonly ObjectSelection[];
  readonly unknown: readonly UnknownSpecifier[];
}

/**
 * Matches specifiers against the catalogue. A specifier that names no known object, or no known
 * counter of the objects it names, is listed in `unknown` (the others still apply).
 */
export function selectCounters(specifiers: readonly string[], catalogue: readonly PerfObject[] = PERF_OBJECTS): Selection {
  const rules = new Map<PerfObject, Array<{ instance: (s: string) => boolean; counter: (s: string) => boolean }>>();
  const unknown: UnknownSpecifier[] = [];
  specifiers.forEach((text, index) => {
    const spec = parseCounterSpecifier(text);
    if (!spec) {
      unknown.push({ index, text, message: `not a counter specifier: "${text}" (expected \\Object(Instance)\\Counter)` });
      return;
    }
    const objectMatch = wildcard(spec.object, objectKey);
    const counterMatch = wildcard(spec.counter, counterKey);
    const objects = catalogue.filter((o) => objectMatch(o.name));
    if (objects.length === 0) {
      unknown.push({ index, text, message: `unknown performance object "${spec.object}" in "${text}" (Linux objects: ${catalogue.map((o) => o.name).join(', ')})` });
      return;
    }
    const withCounter = objects.filter((o) => o.counters.some(counterMatch));
    if (withCounter.length === 0) {
      unknown.push({ index, text, message: `unknown counter "${spec.counter}" of ${objects.map((o) => o.name).join(', ')} in "${text}"` });
      return;
    }
    const instance = wildcard(spec.instance, (s) => s.toLowerCase());
    for (const o of withCounter) {
      const list = rules.get(o) ?? [];
      list.push({ instance, counter: counterMatch });
      rules.set(o, list);
    }
  });
  const objects: ObjectSelection[] = catalogue
    .filter((o) => rules.has(o))
    .map((object) => {
      const list = rules.get(object)!;
      return { object, wants: (instance: string, counter: string) => list.some((r) => r.counter(counter) && r.instance(instance)) };
    });
  return { objects, unknown };
}
