import { describe, expect, it } from 'vitest';
import { testComponentContext } from '../../testing/index.js';
import { filterConfigSchema } from './config.js';
import { FilterProcessor } from './filter.js';

describe('filter processor', () => {
  const batch = {
    table: 'App_CL',
    records: [{ RawData: 'INFO start' }, { RawData: 'DEBUG noise' }, { RawData: 'ERROR boom' }, { RawData: null }],
  };

  it('drops excluded records and counts them', () => {
    const ctx = testComponentContext({ id: 'f', type: 'filter' });
    const p = new FilterProcessor(filterConfigSchema.parse({ exclude: { RawData: '^DEBUG' } }), ctx);
    expect(p.process(batch)?.records.map((r) => r.RawData)).toEqual(['INFO start', 'ERROR boom', null]);
    expect(ctx.metrics.recordsDropped.get({ component_id: 'f', component_type: 'filter', reason: 'filtered' })).toBe(1);
  });

  it('keeps only included records and returns undefined when nothing is left', () => {
    const ctx = testComponentContext();
    const p = new FilterProcessor(filterConfigSchema.parse({ include: { RawData: 'ERROR|WARN' } }), ctx);
    expect(p.process(batch)?.records).toEqual([{ RawData: 'ERROR boom' }]);
    expect(p.process({ table: 'App_CL', records: [{ RawData: 'INFO' }] })).toBeUndefined();
  });

  it('passes an untouched batch through as is', () => {
    const p = new FilterProcessor(filterConfigSchema.parse({ exclude: { RawData: 'nothing-matches-this' } }), testComponentContext());
    expect(p.process(batch)).toBe(batch);
  });

  it('rejects bad regular expressions and empty configs', () => {
    expect(filterConfigSchema.safeParse({ exclude: { RawData: '(' } }).success).toBe(false);
    expect(filterConfigSchema.safeParse({}).success).toBe(false);
  });
});
