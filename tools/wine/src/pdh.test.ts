import { PDH_STATUS } from '@oma/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PdhScenarioResult } from './scenarios/pdh.js';
import { WINE_SKIP_REASON, WINE_TESTS_ENABLED } from './enabled.js';
import { runScenario } from './wine.js';

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
