import { Win32Error } from '../../ports/event-log.js';
import { PDH_STATUS, type PdhBinding, type PdhCounterReading, type PdhQuery } from '../../ports/pdh.js';
import type { FakePdh } from '../fake-pdh.js';

/** What the PDH contract suite needs from a binding under test. */
export interface PdhHarness {
  readonly binding: PdhBinding;
  /** Lets `ms` pass between two collections: a fake moves its clock, a real binding waits for the wall clock. */
  elapse(ms: number): Promise<void>;
  /**
   * The fake behind `binding`, for the cases only a scriptable binding can set up (objects, instances
   * that come and go, rate counters with known raw values); absent for a real binding.
   */
  readonly fake?: FakePdh;
  /** Closes what the harness opened. */
  dispose(): Promise<void>;
}

export interface PdhContractOptions {
  /**
   * Runs the cases that script objects and instances through `harness.fake`. A real binding runs
   * without them: under Wine only `\System\System Up Time` (real) and `\Processor(_Total)\% Processor Time` exist.
   */
  readonly scriptable: boolean;
}

const UPTIME = '\\System\\System Up Time';
const VALID: readonly number[] = [PDH_STATUS.CSTATUS_VALID_DATA, PDH_STATUS.CSTATUS_NEW_DATA];

/** The Win32 code of what `fn` throws; fails when it does not throw a `Win32Error`. */
function win32Of(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof Win32Error) return err.win32;
    throw err;
  }
  throw new Error('expected a Win32Error, nothing was thrown');
}

const pairs = (r: PdhCounterReading) => r.values.map((v) => [v.instance, v.value]);

/**
 * The `PdhQuery` contract: the fake (core) and the koffi binding over pdh.dll (agent-windows, under
 * Wine and on Windows) both pass it. The cases every binding runs use only what Wine's pdh.dll has:
 * the uptime counter and counters that do not exist. vitest is imported when the suite is declared
 * (await it at a test file's top level), so `@oma/core/testing` loads without vitest outside tests.
 */
export async function pdhContract(name: string, makeHarness: () => Promise<PdhHarness>, opts: PdhContractOptions): Promise<void> {
  const { afterEach, beforeEach, describe, expect, it } = await import('vitest');

  describe(`PdhQuery contract: ${name}`, () => {
    let h: PdhHarness;
    const queries: PdhQuery[] = [];
    const open = () => {
      const q = h.binding.openQuery();
      queries.push(q);
      return q;
    };
    const fake = (): FakePdh => {
      if (!h.fake) throw new Error('this case needs a scriptable harness');
      return h.fake;
    };

    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      for (const q of queries.splice(0)) q.close();
      await h.dispose();
    });

    it('reads the uptime counter of a single-instance object: one value, no instance name, rising', async () => {
      const q = open();
      const c = q.addCounter(UPTIME);
      expect(c.path).toBe(UPTIME);
      q.collect();
      const first = q.read(c);
      expect(VALID).toContain(first.status);
      expect(first.values).toHaveLength(1);
      expect(first.values[0]!.instance).toBe('');
      expect(first.values[0]!.value).toBeGreaterThan(0);
      await h.elapse(1500);
      q.collect();
      const second = q.read(c);
      expect(VALID).toContain(second.status);
      expect(second.values[0]!.value).toBeGreaterThan(first.values[0]!.value);
    });

    it('refuses a counter of an object that does not exist, and one the object does not have', () => {
      const q = open();
      // Windows says NO_OBJECT; Wine's pdh.dll says NO_COUNTER for every path it does not know.
      expect([PDH_STATUS.CSTATUS_NO_OBJECT, PDH_STATUS.CSTATUS_NO_COUNTER]).toContain(win32Of(() => q.addCounter('\\No Such Object OMA\\Nothing')));
      expect(win32Of(() => q.addCounter('\\System\\No Such Counter OMA'))).toBe(PDH_STATUS.CSTATUS_NO_COUNTER);
    });

    it('keeps a query usable after a failed add, and says NO_DATA when it has no counter', () => {
      const q = open();
      expect(win32Of(() => q.collect())).toBe(PDH_STATUS.NO_DATA);
      expect(() => q.addCounter('\\System\\No Such Counter OMA')).toThrow(Win32Error);
      const c = q.addCounter(UPTIME);
      q.collect();
      expect(q.read(c).values).toHaveLength(1);
      q.removeCounter(c);
      expect(win32Of(() => q.collect())).toBe(PDH_STATUS.NO_DATA);
    });

    it('gives each query its own counters', () => {
      const a = open();
      const b = open();
      const ca = a.addCounter(UPTIME);
      a.collect();
      expect(win32Of(() => b.collect())).toBe(PDH_STATUS.NO_DATA);
      expect(a.read(ca).values).toHaveLength(1);
    });

    describe.skipIf(!opts.scriptable)('scripted objects (a fake; a real host cannot add and remove instances on demand)', () => {
      it('refuses a missing object with CSTATUS_NO_OBJECT, as Windows does', () => {
        expect(win32Of(() => open().addCounter('\\Web Service(_Total)\\Bytes Total/sec'))).toBe(PDH_STATUS.CSTATUS_NO_OBJECT);
      });

      it('reads a rate counter from its second collection: units per second between the two', async () => {
        const f = fake().defineObject('LogicalDisk', { counters: { 'Disk Reads/sec': 'rate' }, instances: ['C:', '_Total'] });
        f.setRaw('LogicalDisk', 'Disk Reads/sec', 'C:', 1000);
        const q = open();
        const c = q.addCounter('\\LogicalDisk(C:)\\Disk Reads/sec');
        q.collect();
        expect(q.read(c)).toEqual({ status: PDH_STATUS.INVALID_DATA, values: [] });
        f.setRaw('LogicalDisk', 'Disk Reads/sec', 'C:', 1500);
        await h.elapse(10_000);
        q.collect();
        expect(q.read(c)).toEqual({ status: PDH_STATUS.CSTATUS_VALID_DATA, values: [{ instance: 'C:', value: 50 }] });
      });

      it('reads every instance of a wildcard path as it is at each collection, and none at all as NO_DATA', async () => {
        const f = fake().defineObject('Process', { counters: { 'Working Set': 'instant' }, instances: ['svchost', 'lsass'] });
        f.setRaw('Process', 'Working Set', 'svchost', 10).setRaw('Process', 'Working Set', 'lsass', 20).setRaw('Process', 'Working Set', 'w3wp', 30);
        const q = open();
        const c = q.addCounter('\\Process(*)\\Working Set');
        q.collect();
        expect(pairs(q.read(c))).toEqual([['svchost', 10], ['lsass', 20]]);
        f.addInstance('Process', 'w3wp').removeInstance('Process', 'svchost');
        await h.elapse(1000);
        q.collect();
        expect(pairs(q.read(c))).toEqual([['lsass', 20], ['w3wp', 30]]);
        f.setInstances('Process', []);
        await h.elapse(1000);
        q.collect();
        expect(q.read(c)).toEqual({ status: PDH_STATUS.NO_DATA, values: [] });
      });

      it('starts a rate over again for an instance that appears under a wildcard', async () => {
        const f = fake().defineObject('Network Interface', { counters: { 'Bytes Total/sec': 'rate' }, instances: ['eth0'] });
        const q = open();
        const c = q.addCounter('\\Network Interface(*)\\Bytes Total/sec');
        q.collect();
        expect(q.read(c).status).toBe(PDH_STATUS.INVALID_DATA);
        f.setRaw('Network Interface', 'Bytes Total/sec', 'eth0', 2000).addInstance('Network Interface', 'eth1');
        await h.elapse(2000);
        q.collect();
        expect(q.read(c)).toEqual({ status: PDH_STATUS.CSTATUS_VALID_DATA, values: [{ instance: 'eth0', value: 1000 }] });
        f.setRaw('Network Interface', 'Bytes Total/sec', 'eth1', 400);
        await h.elapse(2000);
        q.collect();
        expect(pairs(q.read(c))).toEqual([['eth0', 0], ['eth1', 200]]);
      });

      it('leaves values above 100 as they are (PDH_FMT_NOCAP100)', () => {
        fake().defineObject('Processor Information', { counters: { '% Processor Utility': 'instant' }, instances: ['_Total'] }).setRaw('Processor Information', '% Processor Utility', '_Total', 137.5);
        const q = open();
        const c = q.addCounter('\\Processor Information(_Total)\\% Processor Utility');
        q.collect();
        expect(pairs(q.read(c))).toEqual([['_Total', 137.5]]);
      });

      it('says CSTATUS_NO_INSTANCE for a named instance that is not there now, and reads it once it is', () => {
        const f = fake().defineObject('Process', { counters: { 'Working Set': 'instant' }, instances: [] }).setRaw('Process', 'Working Set', 'w3wp', 7);
        const q = open();
        const c = q.addCounter('\\Process(w3wp)\\Working Set');
        q.collect();
        expect(q.read(c)).toEqual({ status: PDH_STATUS.CSTATUS_NO_INSTANCE, values: [] });
        f.addInstance('Process', 'w3wp');
        q.collect();
        expect(pairs(q.read(c))).toEqual([['w3wp', 7]]);
      });

      it('says CSTATUS_NO_OBJECT for counters whose object went away after they were added', () => {
        const f = fake().defineObject('MSSQL$SQL1:Buffer Manager', { counters: { 'Page life expectancy': 'instant' } });
        const q = open();
        const c = q.addCounter('\\MSSQL$SQL1:Buffer Manager\\Page life expectancy');
        f.removeObject('MSSQL$SQL1:Buffer Manager');
        q.collect();
        expect(q.read(c)).toEqual({ status: PDH_STATUS.CSTATUS_NO_OBJECT, values: [] });
      });

      it('counts open queries, and closes each once', () => {
        const before = fake().openQueries;
        const q = h.binding.openQuery();
        expect(fake().openQueries).toBe(before + 1);
        q.close();
        q.close();
        expect(fake().openQueries).toBe(before);
      });
    });
  });
}
