import { describe, expect, it } from 'vitest';
import { encodeJsonRecords } from '../../wire/format.js';
import { compareOrder, Lane, makeRequest, splitInHalves, type BatchTracker, type OutgoingRequest, type Piece } from './batcher.js';
import { recordsOf } from './testing.js';

const tracker = (): BatchTracker => ({ ack: { settle: () => undefined }, table: 'T', remaining: 0, failed: false });

/** A record of exactly `bytes` bytes of JSON. */
function record(id: number, bytes: number): { id: number; pad: string } {
  return { id, pad: 'x'.repeat(Math.max(0, bytes - 17 - String(id).length)) };
}

/** A piece of one queued batch: records `ids`, each `bytes` long. */
function piece(ids: number[], bytes = 100, at = 0): Piece {
  return { batch: encodeJsonRecords('T', ids.map((id) => record(id, bytes))).batch, at, truncated: false, tracker: tracker() };
}

const entry = (id: number, bytes = 100, at = 0): Piece => piece([id], bytes, at);

const ids = (req: OutgoingRequest | undefined): number[] => (req?.pieces ?? []).flatMap((p) => recordsOf(p.batch).map((r) => r.id as number));
const newLane = (requestBytes: number, flushIntervalMs: number): Lane => new Lane('T', 'Custom-T', { limits: { requestBytes, eagerBytes: undefined }, flushIntervalMs });

describe('Lane', () => {
  it('waits for the flush interval, then sends what it has', () => {
    const lane = newLane(10_000, 1000);
    lane.add(entry(1, 100, 0));
    lane.add(entry(2, 100, 500));
    expect(lane.next(999, false)).toBeUndefined();
    expect(lane.nextDueAt(999, false)).toBe(1000);
    expect(ids(lane.next(1000, false))).toEqual([1, 2]);
    expect(lane.inFlight).toBe(1);
  });

  it('sends at once when forced', () => {
    const lane = newLane(10_000, 1000);
    lane.add(entry(1));
    expect(lane.nextDueAt(0, true)).toBe(0);
    expect(ids(lane.next(0, true))).toEqual([1]);
  });

  it('cuts full requests greedily without exceeding maxRequestBytes', () => {
    const lane = newLane(1000, 60_000);
    for (let i = 0; i < 25; i++) lane.add(entry(i, 100));
    const reqs: OutgoingRequest[] = [];
    for (let r = lane.next(0, false); r; r = lane.next(0, false)) reqs.push(r);
    // 9 records of 100 bytes: 2 + 900 + 8 = 910; a tenth would make 1011.
    expect(reqs.map((r) => r.records)).toEqual([9, 9]);
    for (const r of reqs) expect(r.jsonBytes).toBeLessThanOrEqual(1000);
    expect(lane.pendingCount).toBe(7); // not full, waits for the interval
    expect(ids(lane.next(60_000, false))).toEqual([18, 19, 20, 21, 22, 23, 24]);
  });

  it('holds later requests of the table while the head waits for its retry', () => {
    const lane = newLane(250, 0);
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
    const lane = newLane(150, 0);
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
    const lane = newLane(150, 0);
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
    const lane = newLane(10_000, 0);
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
    const lane = newLane(10_000, 0);
    expect(lane.idle).toBe(true);
    lane.add(entry(1));
    expect(lane.idle).toBe(false);
    const r = lane.next(0, false)!;
    expect(lane.idle).toBe(false);
    lane.done(r);
    expect(lane.idle).toBe(true);
  });

  it('packs whole pieces, and cuts the piece that does not fit between its records', () => {
    const lane = newLane(1000, 60_000);
    lane.add(piece([1, 2, 3], 100)); // 302 bytes
    lane.add(piece([4, 5, 6, 7, 8, 9, 10, 11], 100)); // 807 bytes
    const first = lane.next(0, false)!;
    // [ + 302 + , + 6 records of the second (606) + ] = 912; a seventh would make 1013.
    expect(ids(first)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(first.jsonBytes).toBeLessThanOrEqual(1000);
    expect(first.pieces[1]!.batch.count).toBe(6);
    expect(ids(lane.next(60_000, false))).toEqual([10, 11]);
  });

  it('sends a record larger than a request alone', () => {
    const lane = newLane(1000, 0);
    lane.add(piece([1, 2], 2000));
    expect(ids(lane.next(0, false))).toEqual([1]);
    expect(ids(lane.next(0, false))).toEqual([2]);
  });

  it('follows a lowered limit from the next request on', () => {
    const limits: { requestBytes: number; eagerBytes: number | undefined } = { requestBytes: 10_000, eagerBytes: undefined };
    const lane = new Lane('T', 'Custom-T', { limits, flushIntervalMs: 0 });
    lane.add(piece([1, 2, 3, 4, 5, 6], 100));
    limits.requestBytes = 250;
    expect(ids(lane.next(0, false))).toEqual([1, 2]);
  });

  it('splits in halves by records across pieces, keeping the bytes exact', () => {
    const req = makeRequest([0], [piece([1, 2, 3], 100), piece([4, 5, 6, 7, 8], 100)]);
    const [a, b] = splitInHalves(req);
    expect([ids(a), ids(b)]).toEqual([[1, 2, 3, 4], [5, 6, 7, 8]]);
    expect(a.jsonBytes + b.jsonBytes).toBe(req.jsonBytes + 1); // one more pair of brackets, one comma fewer
    expect(a.records + b.records).toBe(8);
    const json = (r: OutgoingRequest): number => Buffer.byteLength(`[${r.pieces.map((p) => p.batch.data.toString()).join(',')}]`);
    expect(a.jsonBytes).toBe(json(a));
    expect(b.jsonBytes).toBe(json(b));
  });
});
