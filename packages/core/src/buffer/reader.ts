import { BufferPool } from '../wire/buffer-pool.js';
import { open, type FileHandle } from 'node:fs/promises';
import { errnoCode, readFully } from './fs-util.js';
import type { QueueState } from './queue-state.js';
import { RECORD_HEADER_BYTES, decodeRecordHeader, headerCrcSeed } from './record-format.js';
import { RECORD_ACKED, RECORD_HOLE, RECORD_LIVE } from './record-index.js';
import { crc32c } from './crc32c.js';
import type { Segment } from './segment.js';
import type { QueueEntry } from './types.js';

/** Read-ahead window of the reader (records larger than it are read directly). */
const READ_AHEAD_BYTES = 512 * 1024;

const MISS = Symbol('miss');

interface ReadRequest {
  readonly resolve: (e: QueueEntry | undefined) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort?: () => void;
  settled: boolean;
}

interface ReadPos {
  readonly seg: Segment;
  readonly idx: number;
  readonly seq: number;
}

/**
 * The reading side of the durable queue: serves reads in seq order from a read-ahead window over the
 * segment being read (checking each record's length, seq and CRC), skips holes and records expired
 * under the age policy, takes acknowledgements (moving the acked mark) and counts records found
 * damaged or gone as lost.
 */
export class QueueReader {
  private reads: ReadRequest[] = [];
  /** True while `pump` runs (set before it starts: it may finish synchronously). */
  private pumping = false;
  pumpDone: Promise<void> = Promise.resolve();
  private fetching = false;
  private readHandle: { seg: Segment; fh: FileHandle } | undefined;
  private readonly cache = Buffer.allocUnsafe(READ_AHEAD_BYTES);
  /** Memory of payloads handed out and given back (`recycle`), reused for the next reads. */
  readonly payloads = new BufferPool(32);
  private cacheSeg: Segment | undefined;
  private cacheStart = 0;
  private cacheLen = 0;

  constructor(private readonly s: QueueState) {}

  read(signal?: AbortSignal): Promise<QueueEntry | undefined> {
    if (this.s.closing) return Promise.resolve(undefined);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<QueueEntry | undefined>((resolve, reject) => {
      const req: ReadRequest = { resolve, reject, signal, settled: false };
      if (signal) {
        req.onAbort = () => {
          if (req.settled) return;
          req.settled = true;
          const i = this.reads.indexOf(req);
          if (i >= 0) this.reads.splice(i, 1);
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', req.onAbort, { once: true });
      }
      this.reads.push(req);
      this.wakeReaders();
    });
  }

  wakeReaders(): void {
    if (this.pumping || this.reads.length === 0) return;
    this.pumping = true;
    this.pumpDone = this.pump();
  }

  private settleRead(req: ReadRequest, entry: QueueEntry | undefined): void {
    req.settled = true;
    if (req.onAbort) req.signal?.removeEventListener('abort', req.onAbort);
    req.resolve(entry);
  }

  /** Serves queued read requests in order while records are available. */
  private async pump(): Promise<void> {
    try {
      for (;;) {
        while (this.reads.length > 0 && this.reads[0]!.settled) this.reads.shift();
        const req = this.reads[0];
        if (!req) return;
        if (this.s.closing) {
          for (const r of this.reads.splice(0)) if (!r.settled) this.settleRead(r, undefined);
          return;
        }
        const pos = this.nextReadable();
        if (!pos) return;
        let entry: QueueEntry | undefined;
        this.fetching = true;
        try {
          const cached = this.fromCache(pos);
          entry = cached === MISS ? await this.fetch(pos) : cached;
        } catch (err) {
          if (!req.settled) {
            req.settled = true;
            this.reads.shift();
            if (req.onAbort) req.signal?.removeEventListener('abort', req.onAbort);
            req.reject(err);
          }
          continue;
        } finally {
          this.fetching = false;
        }
        // Dropped while being read, or skipped as damaged: look again. Aborted: keep it for the next read.
        if (!entry || pos.seg.dropped || req.settled) continue;
        this.s.readSeq = pos.seq + 1;
        this.reads.shift();
        this.settleRead(req, entry);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The next live record at or after readSeq that has been written, skipping holes and gaps. Under the
   * age policy, live records older than `maxAgeMs` met on the way are dropped instead (counted).
   */
  private nextReadable(): ReadPos | undefined {
    const cutoff = this.s.retention.expiryCutoff();
    let expired = 0;
    try {
      return this.scanReadable(cutoff, (records) => (expired += records));
    } finally {
      if (expired > 0) this.s.retention.reportExpired(expired);
    }
  }

  private scanReadable(cutoff: number, onExpired: (records: number) => void): ReadPos | undefined {
    let i = this.s.segmentFor(this.s.readSeq);
    let seq = this.s.readSeq;
    if (i < 0) {
      if (this.s.segments.length === 0) return undefined;
      i = 0;
      seq = Math.max(seq, this.s.segments[0]!.firstSeq);
    }
    while (i < this.s.segments.length) {
      const seg = this.s.segments[i]!;
      let idx = Math.max(0, seq - seg.firstSeq);
      const n = seg.index.count;
      while (idx < n) {
        if (seg.index.state(idx) === RECORD_LIVE) {
          const s = seg.firstSeq + idx;
          if (seg.index.appendedAt(idx) < cutoff) {
            seg.index.setState(idx, RECORD_HOLE);
            this.s.unacked--;
            this.s.unackedRecords -= seg.index.records(idx);
            this.s.addLostRange(s, s);
            onExpired(seg.index.records(idx));
            idx++;
            continue;
          }
          if (s > this.s.readSeq) this.s.readSeq = s;
          return { seg, idx, seq: s };
        }
        idx++;
      }
      i++;
      const nextSeg = this.s.segments[i];
      if (!nextSeg) break;
      seq = nextSeg.firstSeq;
    }
    return undefined;
  }

  /** Serves a record from the read-ahead window without I/O; MISS when it is not there. */
  private fromCache(pos: ReadPos): QueueEntry | undefined | typeof MISS {
    if (this.cacheSeg !== pos.seg) return MISS;
    const off = pos.seg.index.offset(pos.idx);
    const total = RECORD_HEADER_BYTES + pos.seg.index.payloadLen(pos.idx);
    if (off < this.cacheStart || off + total > this.cacheStart + this.cacheLen) return MISS;
    return this.decode(pos, this.cache, off - this.cacheStart, undefined);
  }

  private async fetch(pos: ReadPos): Promise<QueueEntry | undefined> {
    const { seg, idx } = pos;
    const off = seg.index.offset(idx);
    const len = seg.index.payloadLen(idx);
    const total = RECORD_HEADER_BYTES + len;
    let fh: FileHandle;
    try {
      fh = await this.readHandleFor(seg);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      // The file vanished under us: everything still unread in it is gone.
      if (seg === this.s.active) this.s.writer.requestSeal();
      this.loseRecords(seg, idx, seg.index.count, err);
      return undefined;
    }
    if (total <= READ_AHEAD_BYTES) {
      const want = Math.max(total, Math.min(READ_AHEAD_BYTES, seg.size - off));
      this.cacheSeg = undefined;
      const got = await readFully(fh, this.cache, 0, want, off);
      this.cacheSeg = seg;
      this.cacheStart = off;
      this.cacheLen = got;
      if (got < total) {
        this.loseRecords(seg, idx, idx + 1, new Error('segment shorter than its index'));
        return undefined;
      }
      return this.decode(pos, this.cache, 0, undefined);
    }
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    const payload = this.payloads.take(len);
    const gotH = await readFully(fh, header, 0, RECORD_HEADER_BYTES, off);
    const gotP = gotH === RECORD_HEADER_BYTES ? await readFully(fh, payload, 0, len, off + RECORD_HEADER_BYTES) : 0;
    if (gotP < len) {
      this.loseRecords(seg, idx, idx + 1, new Error('segment shorter than its index'));
      return undefined;
    }
    return this.decode(pos, header, 0, payload);
  }

  /** Checks a record read back (length, seq, CRC) and returns it with a payload the caller owns. */
  private decode(pos: ReadPos, buf: Buffer, at: number, ownPayload: Buffer | undefined): QueueEntry | undefined {
    const { seg, idx, seq } = pos;
    const len = seg.index.payloadLen(idx);
    const h = decodeRecordHeader(buf, at);
    const payloadView = ownPayload ?? buf.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + len);
    if (h.payloadLen !== len || h.seq !== seq || crc32c(payloadView, headerCrcSeed(buf, at)) !== h.crc) {
      this.loseRecords(seg, idx, idx + 1, new Error('record failed its checksum on read'));
      return undefined;
    }
    let payload = ownPayload;
    if (!payload) {
      payload = this.payloads.take(len);
      payload.set(payloadView);
    }
    return { seq, payload, records: h.records, appendedAt: h.appendedAt };
  }

  private async readHandleFor(seg: Segment): Promise<FileHandle> {
    if (this.readHandle?.seg === seg) return this.readHandle.fh;
    await this.closeReadHandle();
    const fh = await open(seg.path, 'r');
    this.readHandle = { seg, fh };
    return fh;
  }

  async closeReadHandle(): Promise<void> {
    const rh = this.readHandle;
    this.readHandle = undefined;
    if (this.cacheSeg === rh?.seg) this.cacheSeg = undefined;
    await rh?.fh.close().catch(() => undefined);
  }

  // ---------------------------------------------------------------- ack

  ack(seq: number): void {
    if (this.s.closed || !Number.isSafeInteger(seq) || seq <= this.s.ackedThrough || seq >= this.s.readSeq) return;
    const i = this.s.segmentFor(seq);
    const seg = this.s.segments[i];
    if (!seg) return;
    const idx = seq - seg.firstSeq;
    if (idx >= seg.index.count || seg.index.state(idx) !== RECORD_LIVE) return;
    seg.index.setState(idx, RECORD_ACKED);
    this.s.unacked--;
    this.s.unackedRecords -= seg.index.records(idx);
    // Cheap when seq is not the oldest unacknowledged record: the walk stops at the first live one.
    this.s.advanceMark();
  }

  // ---------------------------------------------------------------- losses

  /** Records found damaged (or gone) while running: holes from now on, counted and logged. */
  private loseRecords(seg: Segment, from: number, to: number, cause: unknown): void {
    let n = 0;
    let records = 0;
    for (let idx = from; idx < to; idx++) {
      if (seg.index.state(idx) === RECORD_LIVE) {
        seg.index.setState(idx, RECORD_HOLE);
        n++;
        records += seg.index.records(idx);
      }
    }
    if (n === 0) return;
    this.s.unacked -= n;
    this.s.unackedRecords -= records;
    this.s.addLostRange(seg.firstSeq + from, seg.firstSeq + to - 1);
    const suppressed = this.s.errorLog.admit('corrupt');
    if (suppressed >= 0) {
      this.s.log.error({ err: cause, count: records, entries: n, suppressed, dir: this.s.dir }, 'durable queue records lost to corruption');
    }
    this.s.reportDrop(records, 'corrupt');
    this.s.advanceMark();
  }

  /** Closing: every waiting read resolves with undefined. */
  endReads(): void {
    for (const r of this.reads.splice(0)) if (!r.settled) this.settleRead(r, undefined);
  }

  /**
   * A segment about to be deleted: its read handle is closed (unless a read is under way) and its bytes
   * leave the read-ahead window.
   */
  async forget(seg: Segment): Promise<void> {
    if (this.readHandle?.seg === seg && !this.fetching) await this.closeReadHandle();
    if (this.cacheSeg === seg) this.cacheSeg = undefined;
  }
}
