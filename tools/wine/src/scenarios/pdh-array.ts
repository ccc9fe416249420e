/**
 * Under Wine: the PDH binding's wildcard reads (PdhGetFormattedCounterArrayW, the
 * PDH_FMT_COUNTERVALUE_ITEM_W layout, the PDH_MORE_DATA size loop) against the test-double pdh.dll
 * (OMA_PDH_DLL), since Wine 8 only stubs that function. Records what it observes; the assertions are
 * in pdh.test.ts.
 */
import koffi from 'koffi';
import type { PdhCounterReading } from '@oma/core';
import { createPdhBinding } from '@oma/windows';
import { attempt, scenario, type RecordedError } from './harness.js';

export interface PdhArrayScenarioArgs {
  readonly instances: { name: string; value: number }[];
}

export interface PdhArrayScenarioResult {
  readonly all: PdhCounterReading;
  readonly allLarge: PdhCounterReading;
  /** Read while an instance appeared between the size query and the fill. */
  readonly grown: PdhCounterReading;
  readonly moreDataAnswers: number;
  readonly one: PdhCounterReading;
  /** After every instance went away. */
  readonly none: PdhCounterReading;
  readonly unknownObject?: RecordedError;
  readonly openHandlesAtEnd: number;
}

interface PdhDouble {
  setInstances(names: string, values: Float64Array, count: number): void;
  growOnNextSizeQuery(): void;
  counter(name: string): number | bigint;
  openHandles(): number;
}

function loadPdhDouble(): PdhDouble {
  const path = process.env.OMA_PDH_DLL;
  if (path === undefined || path === '') throw new Error('OMA_PDH_DLL names no test-double pdh.dll');
  const lib = koffi.load(path);
  return {
    setInstances: lib.func('void __stdcall OmaPdhSetInstances(const char16_t *names, const double *values, uint32_t count)') as PdhDouble['setInstances'],
    growOnNextSizeQuery: lib.func('void __stdcall OmaPdhGrowOnNextSizeQuery()') as PdhDouble['growOnNextSizeQuery'],
    counter: lib.func('uint64_t __stdcall OmaPdhCounter(const char *name)') as PdhDouble['counter'],
    openHandles: lib.func('uint32_t __stdcall OmaPdhOpenHandles()') as PdhDouble['openHandles'],
  };
}

function run(pdh: PdhDouble, args: PdhArrayScenarioArgs): Omit<PdhArrayScenarioResult, 'openHandlesAtEnd'> {
  const set = (list: { name: string; value: number }[]): void =>
    pdh.setInstances(list.map((i) => i.name).join('\n'), Float64Array.from(list.map((i) => i.value)), list.length);
  set(args.instances);
  const query = createPdhBinding().openQuery();
  const largeQuery = createPdhBinding({ format: 'large' }).openQuery();
  try {
    const unknownObject = attempt(() => query.addCounter('\\No Such Object\\Value')).error;
    const all = query.addCounter('\\OMA Test(*)\\Value');
    const one = query.addCounter(`\\OMA Test(${args.instances[0]!.name})\\Value`);
    const allLarge = largeQuery.addCounter('\\OMA Test(*)\\Value');
    query.collect();
    largeQuery.collect();
    const readAll = query.read(all);
    const readOne = query.read(one);
    const readLarge = largeQuery.read(allLarge);

    // A fresh query, so that its buffer starts empty and asks PDH for the size; an instance comes
    // between that answer and the fill.
    const before = Number(pdh.counter('more_data'));
    pdh.growOnNextSizeQuery();
    const growQuery = createPdhBinding().openQuery();
    let grown: PdhCounterReading;
    try {
      const c = growQuery.addCounter('\\OMA Test(*)\\Value');
      growQuery.collect();
      grown = growQuery.read(c);
    } finally {
      growQuery.close();
    }
    const moreDataAnswers = Number(pdh.counter('more_data')) - before;

    set([]);
    query.collect();
    const none = query.read(all);
    return { all: readAll, allLarge: readLarge, grown, moreDataAnswers, one: readOne, none, ...(unknownObject === undefined ? {} : { unknownObject }) };
  } finally {
    query.close();
    largeQuery.close();
  }
}

scenario<PdhArrayScenarioArgs, PdhArrayScenarioResult>((args) => {
  const pdh = loadPdhDouble();
  const result = run(pdh, args);
  return Promise.resolve({ ...result, openHandlesAtEnd: pdh.openHandles() });
});
