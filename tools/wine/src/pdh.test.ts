import { PDH_STATUS } from '@oma/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PdhArrayScenarioResult } from './scenarios/pdh-array.js';
import type { PdhScenarioResult } from './scenarios/pdh.js';
import { WINE_SKIP_REASON, WINE_TESTS_ENABLED } from './enabled.js';
import { runScenario, windowsPath, winePaths } from './wine.js';

describe.skipIf(!WINE_TESTS_ENABLED)(`PDH binding under Wine, with Wine's pdh.dll${WINE_TESTS_ENABLED ? '' : ` (skipped: ${WINE_SKIP_REASON})`}`, () => {
  let r: PdhScenarioResult;
  beforeAll(async () => {
    r = await runScenario<PdhScenarioResult>('pdh', { riseWithinMs: 5000 }, { timeoutMs: 60_000 });
  });

  it('reads \\System\\System Up Time twice, rising', () => {
    expect(r.large.length).toBeGreaterThanOrEqual(2);
    const first = r.large[0]!;
    const last = r.large.at(-1)!;
    expect(first.status).toBe(PDH_STATUS.CSTATUS_VALID_DATA);
    expect(first.instance).toBe('');
    expect(first.value).toBeGreaterThan(0);
    expect(last.value).toBeGreaterThan(first.value);
    // Seconds of uptime: it cannot have risen by more than the time between the reads (plus a tick).
    expect(last.value - first.value).toBeLessThanOrEqual(Math.ceil(r.elapsedMs / 1000) + 1);
  });

  it('reads the same counter as PDH_FMT_DOUBLE with a valid status (Wine formats the value itself wrongly)', () => {
    for (const d of r.double) {
      expect(d.status).toBe(PDH_STATUS.CSTATUS_VALID_DATA);
      expect(Number.isFinite(d.value)).toBe(true);
    }
  });

  it('refuses an unknown counter with its PDH status, unsigned', () => {
    expect(r.unknownCounter).toMatchObject({ code: 'OMA_ERR_NATIVE', win32: PDH_STATUS.CSTATUS_NO_COUNTER, call: 'PdhAddEnglishCounterW' });
  });

  it('refuses a counter the object does not have with CSTATUS_NO_COUNTER', () => {
    expect(r.unknownCounterOfSystem).toMatchObject({ win32: PDH_STATUS.CSTATUS_NO_COUNTER, call: 'PdhAddEnglishCounterW' });
  });

  it('refuses to read a removed counter, and says NO_DATA when a query has no counter', () => {
    expect(r.readAfterRemove).toMatchObject({ code: 'OMA_ERR_NATIVE' });
    expect(r.emptyCollect).toMatchObject({ win32: PDH_STATUS.NO_DATA, call: 'PdhCollectQueryData' });
    expect(r.collectAfterRemove).toMatchObject({ win32: PDH_STATUS.NO_DATA, call: 'PdhCollectQueryData' });
  });

  it('keeps a query usable after a failed add, and gives each query its own counters', () => {
    expect(r.otherQueryCollect).toMatchObject({ win32: PDH_STATUS.NO_DATA });
    expect(r.valuesBesideEmptyQuery).toBe(1);
  });
});

const INSTANCES = Array.from({ length: 20 }, (_, i) => ({ name: i === 0 ? '_Total' : `instance ${i} (é)`, value: i === 0 ? 123.25 : i * 10.5 }));

describe.skipIf(!WINE_TESTS_ENABLED)(
  `PDH binding under Wine, wildcard paths with the test-double pdh.dll${WINE_TESTS_ENABLED ? '' : ` (skipped: ${WINE_SKIP_REASON})`}`,
  () => {
    let r: PdhArrayScenarioResult;
    beforeAll(async () => {
      r = await runScenario<PdhArrayScenarioResult>('pdh-array', { instances: INSTANCES }, { timeoutMs: 60_000, env: { OMA_PDH_DLL: windowsPath(winePaths().pdhDoubleDll) } });
    });

    it('reads every instance of a (*) path: names and doubles decoded from PDH_FMT_COUNTERVALUE_ITEM_W', () => {
      expect(r.all.status).toBe(PDH_STATUS.CSTATUS_VALID_DATA);
      expect(r.all.values).toEqual(INSTANCES.map((i) => ({ instance: i.name, value: i.value })));
    });

    it('formats as 64-bit integers with format large', () => {
      expect(r.allLarge.values).toEqual(INSTANCES.map((i) => ({ instance: i.name, value: Math.trunc(i.value) })));
    });

    it('asks again while PDH says PDH_MORE_DATA, also when an instance came between the size and the fill', () => {
      expect(r.moreDataAnswers).toBe(2);
      expect(r.grown.values).toHaveLength(INSTANCES.length + 1);
      expect(r.grown.values.at(-1)).toEqual({ instance: 'late-instance-with-a-long-name', value: 42.5 });
    });

    it('reads a path without a wildcard as one value with the instance of the path', () => {
      expect(r.one).toEqual({ status: PDH_STATUS.CSTATUS_VALID_DATA, values: [{ instance: '_Total', value: 123.25 }] });
    });

    it('gives NO_DATA and no values when the wildcard matches no instance', () => {
      expect(r.none).toEqual({ status: PDH_STATUS.NO_DATA, values: [] });
    });

    it('refuses an unknown object, and leaves no query or counter open', () => {
      expect(r.unknownObject).toMatchObject({ win32: PDH_STATUS.CSTATUS_NO_COUNTER });
      expect(r.openHandlesAtEnd).toBe(0);
    });
  },
);
