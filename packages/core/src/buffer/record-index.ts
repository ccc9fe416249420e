/** State of one sequence number inside a segment. */
export const RECORD_HOLE = 0;
export const RECORD_LIVE = 1;
export const RECORD_ACKED = 2;
export type RecordState = typeof RECORD_HOLE | typeof RECORD_LIVE | typeof RECORD_ACKED;

/**
 * Where the records of one segment are, indexed by `seq - firstSeq`: file offset, payload length,
 * append time and state. About 25 bytes per record; payloads stay on disk.
 *
 * A hole is a sequence number with no readable record (lost to corruption).
 */
export class RecordIndex {
  private n = 0;
  private offsets: Float64Array;
  private lens: Uint32Array;
  private times: Float64Array;
  private counts: Uint32Array;
  private states: Uint8Array;

  constructor(initialCapacity = 64) {
    const cap = Math.max(1, initialCapacity);
    this.offsets = new Float64Array(cap);
    this.lens = new Uint32Array(cap);
    this.times = new Float64Array(cap);
    this.counts = new Uint32Array(cap);
    this.states = new Uint8Array(cap);
  }

  get count(): number {
    return this.n;
  }

  push(offset: number, payloadLen: number, appendedAt: number, records: number, state: RecordState): void {
    if (this.n === this.states.length) this.grow();
    const i = this.n++;
    this.offsets[i] = offset;
    this.lens[i] = payloadLen;
    this.times[i] = appendedAt;
    this.counts[i] = records;
    this.states[i] = state;
  }

  pushHole(): void {
    this.push(0, 0, 0, 0, RECORD_HOLE);
  }

  offset(i: number): number {
    return this.offsets[i] ?? 0;
  }

  payloadLen(i: number): number {
    return this.lens[i] ?? 0;
  }

  appendedAt(i: number): number {
    return this.times[i] ?? 0;
  }

  /** Telemetry records the entry's payload carries. */
  records(i: number): number {
    return this.counts[i] ?? 0;
  }

  state(i: number): RecordState {
    return (this.states[i] ?? RECORD_HOLE) as RecordState;
  }

  setState(i: number, s: RecordState): void {
    if (i >= 0 && i < this.n) this.states[i] = s;
  }

  /** Number of live (stored, unacknowledged) entries. */
  liveCount(): number {
    let c = 0;
    for (let i = 0; i < this.n; i++) if (this.states[i] === RECORD_LIVE) c++;
    return c;
  }

  /** Telemetry records in the live entries. */
  liveRecords(): number {
    let c = 0;
    for (let i = 0; i < this.n; i++) if (this.states[i] === RECORD_LIVE) c += this.counts[i]!;
    return c;
  }

  /** Telemetry records in every indexed entry (live or acknowledged), and how many entries that is. */
  indexedRecords(): { entries: number; records: number } {
    let entries = 0;
    let records = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.states[i] === RECORD_HOLE) continue;
      entries++;
      records += this.counts[i]!;
    }
    return { entries, records };
  }

  private grow(): void {
    const cap = this.states.length * 2;
    const offsets = new Float64Array(cap);
    offsets.set(this.offsets);
    const lens = new Uint32Array(cap);
    lens.set(this.lens);
    const times = new Float64Array(cap);
    times.set(this.times);
    const counts = new Uint32Array(cap);
    counts.set(this.counts);
    const states = new Uint8Array(cap);
    states.set(this.states);
    this.offsets = offsets;
    this.lens = lens;
    this.times = times;
    this.counts = counts;
    this.states = states;
  }
}
