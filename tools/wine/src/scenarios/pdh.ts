/**
 * Under Wine: the real koffi PDH binding of @oma/windows against Wine's own pdh.dll, which has
 * `\System\System Up Time` (seconds) and formats PDH_FMT_DOUBLE wrongly (it stores the integer, so a
 * double read is a tiny denormal); values are checked with PDH_FMT_LARGE, doubles only for order.
 * Wine 8 only stubs PdhGetFormattedCounterArrayW (calling it aborts the process), so wildcard paths
 * are not run here. Records what it observes; the assertions are in pdh.test.ts.
 */
import { createPdhBinding } from '@oma/windows';
import { attempt, scenario, type RecordedError } from './harness.js';

export interface PdhScenarioArgs {
  /** How long to collect until the uptime has risen. */
  readonly riseWithinMs: number;
}

export interface PdhScenarioResult {
  readonly large: { status: number; instance: string; value: number }[];
  readonly double: { status: number; value: number }[];
  readonly elapsedMs: number;
  readonly unknownCounter?: RecordedError;
  readonly unknownCounterOfSystem?: RecordedError;
  readonly readAfterRemove?: RecordedError;
  /** PdhCollectQueryData of a query without counters: before any add, and after the last was removed. */
  readonly emptyCollect?: RecordedError;
  readonly collectAfterRemove?: RecordedError;
  /** A query with a counter beside one without: its collect fails, the other's read works. */
  readonly otherQueryCollect?: RecordedError;
  readonly valuesBesideEmptyQuery: number;
}

const UPTIME = '\\System\\System Up Time';

scenario<PdhScenarioArgs, PdhScenarioResult>(async (args) => {
  const largeQuery = createPdhBinding({ format: 'large' }).openQuery();
  const doubleQuery = createPdhBinding().openQuery();
  try {
    const large = largeQuery.addCounter(UPTIME);
    const dbl = doubleQuery.addCounter(UPTIME);
    const unknownCounter = attempt(() => largeQuery.addCounter('\\No Such Object\\No Such Counter')).error;

    const sample = (): void => {
      largeQuery.collect();
      doubleQuery.collect();
      const l = largeQuery.read(large);
      const d = doubleQuery.read(dbl);
      larges.push({ status: l.status, instance: l.values[0]?.instance ?? '', value: l.values[0]?.value ?? Number.NaN });
      doubles.push({ status: d.status, value: d.values[0]?.value ?? Number.NaN });
    };
    const larges: PdhScenarioResult['large'] = [];
    const doubles: PdhScenarioResult['double'] = [];
    const start = performance.now();
    sample();
    // Collect again until the uptime (whole seconds) has moved on, within the bound.
    while (performance.now() - start < args.riseWithinMs) {
      await new Promise((r) => setTimeout(r, 250));
      sample();
      if (larges.at(-1)!.value > larges[0]!.value) break;
    }
    const elapsedMs = performance.now() - start;

    largeQuery.removeCounter(large);
    const readAfterRemove = attempt(() => largeQuery.read(large)).error;
    const collectAfterRemove = attempt(() => largeQuery.collect()).error;

    // The cases of the PdhQuery contract (@oma/core/testing/contracts) that Wine's pdh.dll can run.
    const fresh = createPdhBinding().openQuery();
    const other = createPdhBinding().openQuery();
    let emptyCollect: RecordedError | undefined;
    let unknownCounterOfSystem: RecordedError | undefined;
    let otherQueryCollect: RecordedError | undefined;
    let valuesBesideEmptyQuery = 0;
    try {
      emptyCollect = attempt(() => fresh.collect()).error;
      unknownCounterOfSystem = attempt(() => fresh.addCounter('\\System\\No Such Counter OMA')).error;
      const c = fresh.addCounter(UPTIME);
      otherQueryCollect = attempt(() => other.collect()).error;
      fresh.collect();
      valuesBesideEmptyQuery = fresh.read(c).values.length;
    } finally {
      fresh.close();
      other.close();
    }
    return {
      large: larges,
      double: doubles,
      elapsedMs,
      ...(unknownCounter === undefined ? {} : { unknownCounter }),
      ...(readAfterRemove === undefined ? {} : { readAfterRemove }),
      ...(collectAfterRemove === undefined ? {} : { collectAfterRemove }),
      ...(emptyCollect === undefined ? {} : { emptyCollect }),
      ...(unknownCounterOfSystem === undefined ? {} : { unknownCounterOfSystem }),
      ...(otherQueryCollect === undefined ? {} : { otherQueryCollect }),
      valuesBesideEmptyQuery,
    };
  } finally {
    largeQuery.close();
    doubleQuery.close();
  }
});
