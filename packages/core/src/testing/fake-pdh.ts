import { Win32Error } from '../ports/event-log.js';
import { PDH_STATUS, type PdhBinding, type PdhCounter, type PdhCounterReading, type PdhInstanceValue, type PdhQuery } from '../ports/pdh.js';

/**
 * How a fake counter turns its raw values into readings: `instant` gives the raw value of each
 * collection (Available MBytes, System Up Time); `rate` gives (raw2 - raw1) / (t2 - t1), in units per
 * second, from the second collection on (Disk Reads/sec, % Processor Time).
 */
export type FakePdhCounterKind = 'instant' | 'rate';

/** A raw value, or a function of the fake's clock (ms) for counters that move by themselves (System Up Time). */
export type FakePdhRaw = number | ((nowMs: number) => number);

export interface FakePdhObjectDefinition {
  /** The object's counters by English name, and how each is computed. */
  readonly counters: Readonly<Record<string, FakePdhCounterKind>>;
  /** Its instances now (`_Total`, `0`, `C:`); leave out for a single-instance object (Memory, System). */
  readonly instances?: readonly string[];
}

interface FakeObject {
  readonly name: string;
  readonly counters: Map<string, { readonly name: string; readonly kind: FakePdhCounterKind }>;
  /** Undefined for a single-instance object. */
  instances: string[] | undefined;
}

/** PDH_INVALID_HANDLE (pdhmsg.h): a call on a closed query. */
const PDH_INVALID_HANDLE = 0xc000_0bbc;

const key = (s: string): string => s.toLowerCase();

/** `\Object(Instance)\Counter` or `\\Machine\Object…`, as far as the fake needs it (the instance may hold parentheses). */
const PATH_RE = /^(?:\\\\[^\\]+)?\\([^\\()]+)(?:\((.*)\))?\\([^\\]+)$/;

/**
 * Performance counters in memory, scriptable: tests define objects with counters and instances,
 * set raw values, add and remove instances between collections, and remove whole objects (a service
 * whose counters go away). Names are English only and compared without case, as PDH does. Values are
 * never capped at 100 (the port formats with PDH_FMT_NOCAP100). Obeys the `PdhQuery` contract suite.
 */
export class FakePdh implements PdhBinding {
  private readonly objects = new Map<string, FakeObject>();
  private readonly raws = new Map<string, FakePdhRaw>();
  private readonly queries = new Set<FakePdhQuery>();
  /** Every path passed to `addCounter`, in order, failed ones included (for tests of retries). */
  readonly added: string[] = [];
  /** Set to make `openQuery` throw, e.g. an `AgentError` OMA_ERR_NATIVE_LOAD. */
  openError: Error | undefined;

  /** `now` is the clock rates are computed with (ms); a test passes its fake clock's. */
  constructor(readonly now: () => number = Date.now) {}

  /** Defines (or replaces) an object with its counters and instances. */
  defineObject(name: string, def: FakePdhObjectDefinition): this {
    const counters = new Map(Object.entries(def.counters).map(([c, kind]) => [key(c), { name: c, kind }] as const));
    this.objects.set(key(name), { name, counters, instances: def.instances ? [...def.instances] : undefined });
    return this;
  }

  /** Removes an object: counters added over it read CSTATUS_NO_OBJECT, new ones fail to add. */
  removeObject(name: string): this {
    this.objects.delete(key(name));
    return this;
  }

  /** Replaces the instances of a multi-instance object (those gone disappear from wildcard reads). */
  setInstances(object: string, instances: readonly string[]): this {
    this.object(object).instances = [...instances];
    return this;
  }

  addInstance(object: string, instance: string): this {
    const o = this.object(object);
    o.instances = [...(o.instances ?? []), instance];
    return this;
  }

  removeInstance(object: string, instance: string): this {
    const o = this.object(object);
    o.instances = (o.instances ?? []).filter((i) => key(i) !== key(instance));
    return this;
  }

  /**
   * Sets the raw value of a counter's instance (`''` for a single-instance object): what an instant
   * counter reads, or the cumulative count a rate counter is computed from. Unset values are 0.
   */
  setRaw(object: string, counter: string, instance: string, raw: FakePdhRaw): this {
    this.raws.set(rawKey(object, counter, instance), raw);
    return this;
  }

  /** Queries open now. */
  get openQueries(): number {
    return this.queries.size;
  }

  openQuery(): PdhQuery {
    if (this.openError) throw this.openError;
    const q = new FakePdhQuery(this, () => this.queries.delete(q));
    this.queries.add(q);
    return q;
  }

  /** @internal */
  lookup(object: string): FakeObject | undefined {
    return this.objects.get(key(object));
  }

  /** @internal */
  raw(object: string, counter: string, instance: string): number {
    const r = this.raws.get(rawKey(object, counter, instance)) ?? 0;
    return typeof r === 'function' ? r(this.now()) : r;
  }

  private object(name: string): FakeObject {
    const o = this.objects.get(key(name));
    if (!o) throw new Error(`FakePdh: no object ${name}`);
    return o;
  }
}

function rawKey(object: string, counter: string, instance: string): string {
  return `${key(object)}\u0000${key(counter)}\u0000${key(instance)}`;
}

interface Sample {
  readonly atMs: number;
  /** Raw value per instance key; undefined when the object was gone at the collection. */
  readonly raws: Map<string, { readonly instance: string; readonly raw: number }> | undefined;
  /** The object has no instances (Memory, System): its one value is under ''. */
  readonly single: boolean;
}

class FakeCounter implements PdhCounter {
  prev: Sample | undefined;
  last: Sample | undefined;
  constructor(
    readonly path: string,
    readonly object: string,
    readonly counter: string,
    readonly kind: FakePdhCounterKind,
    /** undefined: no instance in the path; '*': every instance. */
    readonly instance: string | undefined,
  ) {}
}

class FakePdhQuery implements PdhQuery {
  private readonly counters = new Set<FakeCounter>();
  private closed = false;

  constructor(private readonly pdh: FakePdh, private readonly onClose: () => void) {}

  addCounter(englishPath: string): PdhCounter {
    this.check('PdhAddEnglishCounterW');
    this.pdh.added.push(englishPath);
    const m = PATH_RE.exec(englishPath);
    if (!m) throw new Win32Error('PdhAddEnglishCounterW', PDH_STATUS.CSTATUS_BAD_COUNTERNAME, englishPath);
    const [, objectName, instance, counterName] = m as unknown as [string, string, string | undefined, string];
    const object = this.pdh.lookup(objectName);
    if (!object) throw new Win32Error('PdhAddEnglishCounterW', PDH_STATUS.CSTATUS_NO_OBJECT, englishPath);
    const counter = object.counters.get(key(counterName));
    if (!counter) throw new Win32Error('PdhAddEnglishCounterW', PDH_STATUS.CSTATUS_NO_COUNTER, englishPath);
    const c = new FakeCounter(englishPath, object.name, counter.name, counter.kind, instance);
    this.counters.add(c);
    return c;
  }

  removeCounter(counter: PdhCounter): void {
    this.check('PdhRemoveCounter');
    this.counters.delete(counter as FakeCounter);
  }

  collect(): void {
    this.check('PdhCollectQueryData');
    if (this.counters.size === 0) throw new Win32Error('PdhCollectQueryData', PDH_STATUS.NO_DATA);
    const atMs = this.pdh.now();
    for (const c of this.counters) {
      const object = this.pdh.lookup(c.object);
      let raws: Sample['raws'];
      const single = object?.instances === undefined;
      if (object) {
        raws = new Map();
        for (const instance of object.instances ?? ['']) raws.set(key(instance), { instance, raw: this.pdh.raw(c.object, c.counter, instance) });
      }
      c.prev = c.last;
      c.last = { atMs, raws, single };
    }
  }

  read(counter: PdhCounter): PdhCounterReading {
    this.check('PdhGetFormattedCounterArrayW');
    const c = counter as FakeCounter;
    if (!this.counters.has(c)) throw new Win32Error('PdhGetFormattedCounterArrayW', PDH_INVALID_HANDLE, c.path);
    const last = c.last;
    if (!last) return { status: PDH_STATUS.INVALID_DATA, values: [] };
    if (!last.raws) return { status: PDH_STATUS.CSTATUS_NO_OBJECT, values: [] };
    if (c.instance === '*') {
      if (last.single || last.raws.size === 0) return { status: PDH_STATUS.NO_DATA, values: [] };
      const values: PdhInstanceValue[] = [];
      for (const [k, { instance }] of last.raws) {
        const v = this.value(c, k);
        if (v.status === PDH_STATUS.CSTATUS_VALID_DATA) values.push({ instance, value: v.value });
      }
      return values.length > 0 ? { status: PDH_STATUS.CSTATUS_VALID_DATA, values } : { status: PDH_STATUS.INVALID_DATA, values: [] };
    }
    // A named instance of a multi-instance object, or no instance of a single-instance one.
    const k = key(c.instance ?? '');
    const found = last.raws.get(k);
    if (!found || (c.instance === undefined) !== last.single) return { status: PDH_STATUS.CSTATUS_NO_INSTANCE, values: [] };
    const v = this.value(c, k);
    return v.status === PDH_STATUS.CSTATUS_VALID_DATA ? { status: v.status, values: [{ instance: found.instance, value: v.value }] } : { status: v.status, values: [] };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.counters.clear();
    this.onClose();
  }

  private value(c: FakeCounter, k: string): { status: number; value: number } {
    const now = c.last!.raws!.get(k)!;
    if (c.kind === 'instant') return { status: PDH_STATUS.CSTATUS_VALID_DATA, value: now.raw };
    const before = c.prev?.raws?.get(k);
    const seconds = (c.last!.atMs - (c.prev?.atMs ?? 0)) / 1000;
    if (!before || seconds <= 0) return { status: PDH_STATUS.INVALID_DATA, value: 0 };
    const value = (now.raw - before.raw) / seconds;
    return value < 0 ? { status: PDH_STATUS.CALC_NEGATIVE_VALUE, value: 0 } : { status: PDH_STATUS.CSTATUS_VALID_DATA, value };
  }

  private check(call: string): void {
    if (this.closed) throw new Win32Error(call, PDH_INVALID_HANDLE);
  }
}
