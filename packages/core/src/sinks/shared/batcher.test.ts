import { describe, expect, it } from 'vitest';
import { compareOrder, Lane, splitInHalves, type BatchTracker, type Entry, type OutgoingRequest } from './batcher.js';

const tracker = (): BatchTracker => ({ ack: { settle: () => undefined }, table: 'T', remaining: 0, failed: false });

function entry(id: number, bytes = 100, at = 0): Entry {
  const json = JSON.stringify({ id, pad: 'x'.repeat(Math.max(0, bytes - 16 - String(id).length)) });
  return { json, bytes: Buffer.byteLength(json), at, truncated: false, tracker: tracker() };
}

const ids = (req: OutgoingRequest | undefined): number[] => (req?.entries ?? []).map((e) => (JSON.parse(e.json) as { id: number }).id);

describe('Lane', () => {
  it('waits for the flush interval, then sends what it has', () => {
    const lane = new Lane('T', 'Custom-T', { maxRequestBytes: 10_000, flushIntervalMs: 1000 });
    lane.add(entry(1, 100, 0));
    lane.add(entry(2, 100, 500));
    expect(lane.next(999, false)).toBeUndefined();
    expect(lane.nextDueAt(999, false)).toBe(1000);
    expect(ids(lane.next(1000, false))).toEqual([1, 2]);
    expect(lane.inFlight).toBe(1);
  });

  it('sends at once when forced', () => {
    const lane = new Lane('T', 'Custom-T', { maxRequestBytes: 10_000, flushIntervalMs: 1000 });
    lane.add(entry(1));
    expect(lane.nextDueAt(0, true)).toBe(0);
    expect(ids(lane.next(0, true))).toEqual([1]);
  });

  it('cuts full requests greedily without exceeding maxRequestBytes', () => {
    const lane = new Lane('T', 'Custom-T', { maxRequestBytes: 1000, flushIntervalMs: 60_000 });
    for (let i = 0; i < 25; i++) lane.add(entry(i, 100));
    const reqs: OutgoingRequest[] = [];
    for (let r = lane.next(0, false); r; r = lane.next(0, false)) reqs.push(r);
    // 9 records of 100 bytes: 2 + 900 + 8 = 910; a tenth would make 1011.
    expect(reqs.map((r) => r.entries.length)).toEqual([9, 9]);
    for (const r of reqs) expect(r.jsonBytes).toBeLessThanOrEqual(1000);
    expect(lane.pendingCount).toBe(7); // not full, waits for the interval
    expect(ids(lane.next(60_000, false))).toEqual([18, 19, 20, 21, 22, 23, 24]);
  });

  it('holds later requests of the table while the head waits for its retry', () => {
    const lane = new Lane('T', 'Custom-T', { maxRequestBytes: 250, flushIntervalMs: 0 });
    for (let i = 1; i <= 6; i++) lane.add(entry(i, 100));
    const a = lane.next(0, false)!;
    const b = lane.next(0, false)!;
    expect([ids(a), ids(b)]).toEqual([[1, 2], [3, 4]]);
    lane.retryLater(a, 0, 1000);
    expect(lane.retrying).toBe(true);
    expect(lane.next(500, false)).toBeUndefined(); // 5, 6 wait
    expect(lane.nextDueAt(500, false)).toBe(1000);
    lane.done(b); // sent before the failure: may complete
    const retry = lane.next(1000, false);
    expect(retry).toBe(a);
    expect(lane.next(1000, false)).toBeUndefined(); // one at a time while retrying
    lane.done(a);
    expect(lane.retrying).toBe(false);
    expect(ids(lane.next(1000, false))).toEqual([5, 6]);
  });

  it('retries failed requests oldest first', () => {
    const lane = new Lane('T', 'Custom-T', { maxRequestBytes: 150, flushIntervalMs: 0 });
    for (let i = 1; i <= 3; i++) lane.add(entry(i, 100));
    const [a, b, c] = [lane.next(0, false)!, lane.next(0, false)!, lane.next(0, false)!];
    lane.retryLater(c, 0, 100);
    lane.retryLater(a, 10, 100);
    lane.done(b);
    expect(lane.next(110, false)).toBe(a);
    lane.done(a);
    expect(lane.next(110, false)).toBe(c);
  });

  it('a later request failing while the head is retried does not unblock the table', () => {
    const lane = new Lane('T', 'Custom-T', { maxRequestBytes: 150, flushIntervalMs: 0 });
    for (let i = 1; i <= 3; i++) lane.add(entry(i, 100));
    const [a, b] = [lane.next(0, false)!, lane.next(0, false)!];
    lane.retryLater(a, 0, 100);
    expect(lane.next(100, false)).toBe(a); // head in flight
    lane.retryLater(b, 100, 50);
    expect(lane.next(200, false)).toBeUndefined(); // head still in flight: nothing else
    lane.done(a);
    expect(lane.next(200, false)).toBe(b);
  });

  it('sends the parts of a split request in its place', () => {
    const lane = new Lane('T', 'Custom-T', { maxRequestBytes: 10_000, flushIntervalMs: 0 });
    for (let i = 1; i <= 5; i++) lane.add(entry(i, 100));
    const whole = lane.next(0, false)!;
    lane.add(entry(6, 100));
    const [p1, p2] = splitInHalves(whole);
    expect([ids(p1), ids(p2)]).toEqual([[1, 2, 3], [4, 5]]);
    lane.replace(whole, [p2, p1]);
    expect(lane.next(0, false)).toBe(p1);
    expect(lane.next(0, false)).toBe(p2);
    expect(ids(lane.next(0, false))).toEqual([6]);
  });

  it('orders split parts before later requests', () => {
    expect(compareOrder([3, 1], [4])).toBeLessThan(0);
    expect(compareOrder([3], [3, 0])).toBeLessThan(0);
    expect(compareOrder([3, 0, 1], [3, 1])).toBeLessThan(0);
    expect(compareOrder([2], [2])).toBe(0);
  });

  it('is idle once everything is done', () => {
    const lane = new Lane('T', 'Custom-T', { maxRequestBytes: 10_000, flushIntervalMs: 0 });
    expect(lane.idle).toBe(true);
    lane.add(entry(1));
    expect(lane.idle).toBe(false);
    const r = lane.next(0, false)!;
    expect(lane.idle).toBe(false);
    lane.done(r);
    expect(lane.idle).toBe(true);
  });
});
