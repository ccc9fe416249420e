import type { SeqRange } from './ledger.js';

/** The parts of [lo, hi] not covered by `ranges` (sorted, merged). */
export function uncovered(lo: number, hi: number, ranges: readonly SeqRange[]): SeqRange[] {
  const out: SeqRange[] = [];
  let from = lo;
  for (const [a, b] of ranges) {
    if (from > hi) break;
    if (b < from) continue;
    if (a > hi) break;
    if (a > from) out.push([from, a - 1]);
    from = Math.max(from, b + 1);
  }
  if (from <= hi) out.push([from, hi]);
  return out;
}

/** Sorts and merges overlapping or adjacent ranges. */
export function mergeRanges(ranges: SeqRange[]): SeqRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
