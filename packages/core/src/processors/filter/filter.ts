import type { LogRecord, RecordBatch } from '../../model/record.js';
import type { ComponentContext, Processor } from '../../pipeline/component.js';
import type { FilterConfig } from './config.js';

type Rule = readonly [column: string, re: RegExp];

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Keeps or drops records by regular expressions on columns; drops are counted (reason `filtered`). */
export class FilterProcessor implements Processor {
  private readonly include: Rule[];
  private readonly exclude: Rule[];

  constructor(config: FilterConfig, private readonly ctx: ComponentContext) {
    this.include = Object.entries(config.include ?? {}).map(([c, r]) => [c, new RegExp(r)] as const);
    this.exclude = Object.entries(config.exclude ?? {}).map(([c, r]) => [c, new RegExp(r)] as const);
  }

  private keep(r: LogRecord): boolean {
    for (const [c, re] of this.include) if (!re.test(text(r[c]))) return false;
    for (const [c, re] of this.exclude) if (re.test(text(r[c]))) return false;
    return true;
  }

  process(batch: RecordBatch): RecordBatch | undefined {
    const kept = batch.records.filter((r) => this.keep(r));
    const dropped = batch.records.length - kept.length;
    if (dropped > 0) this.ctx.metrics.recordsDropped.inc({ ...this.ctx.labels, reason: 'filtered' }, dropped);
    if (kept.length === 0) return undefined;
    return dropped === 0 ? batch : { table: batch.table, records: kept };
  }
}
