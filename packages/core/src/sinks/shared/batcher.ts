import type { AckHandle } from '../../pipeline/batch.js';
import { sliceBatch, type EncodedBatch } from '../../wire/encoded-batch.js';

/** Settlement state of one batch taken from the queue: settled when all its records are resolved. */
export interface BatchTracker {
  readonly ack: AckHandle;
  readonly table: string;
  /** Records not yet delivered or rejected. */
  remaining: number;
  /** Some record was rejected (dead-lettered or invalid): the batch settles `rejected`. */
  failed: boolean;
}

/**
 * Records of one queued batch (all of it, or a run of its records after a split) waiting for delivery,
 * encoded as the API wants them.
 */
export interface Piece {
  batch: EncodedBatch;
  /** When it was taken (clock ms): starts the flush interval. */
  readonly at: number;
  /** Its record's fields were already cut to make it fit (a single record). */
  truncated: boolean;
  readonly tracker: BatchTracker;
}

/** A request's worth of records of one table. */
export interface OutgoingRequest {
  /** Position within the table: compared lexicographically; parts of a split request sort in place. */
  readonly order: readonly number[];
  readonly pieces: readonly Piece[];
  /** Records in the pieces. */
  readonly records: number;
  /** Bytes of the JSON array of the records. */
  readonly jsonBytes: number;
  /** Encoded body, kept for retries. */
  body?: Buffer;
  /** Times this request was sent. */
  sends: number;
  /** A 401 already led to one immediate retry with a fresh token. */
  authRetried: boolean;
}

/** How large a request may be: shared by the lanes of a sink, updated by it as it learns (compression ratio, 413s). */
export interface RequestLimits {
  /** Most bytes of the JSON array (before compression) of one request. */
  requestBytes: number;
  /**
   * While set (the destination's queue has nothing more to read right now), pending records that make
   * at least this many JSON bytes go out without waiting for the flush interval.
   */
  eagerBytes: number | undefined;
}

export interface LaneOptions {
  readonly limits: RequestLimits;
  readonly flushIntervalMs: number;
}

/** Bytes of the JSON array holding pieces of these sizes: brackets plus one comma between each two. */
export function arrayJsonBytes(pieceBytes: number, count: number): number {
  return 2 + pieceBytes + Math.max(0, count - 1);
}

export function compareOrder(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function makeRequest(order: readonly number[], pieces: readonly Piece[]): OutgoingRequest {
  let bytes = 0;
  let records = 0;
  for (const p of pieces) {
    bytes += p.batch.data.length;
    records += p.batch.count;
  }
  return { order, pieces, records, jsonBytes: arrayJsonBytes(bytes, pieces.length), sends: 0, authRetried: false };
}

/** The piece's records `[from, to)` as a piece of the same batch. */
function subPiece(p: Piece, from: number, to: number): Piece {
  return { batch: sliceBatch(p.batch, from, to), at: p.at, truncated: p.truncated, tracker: p.tracker };
}

/** Most leading records of `batch` whose bytes (with the commas between them) fit in `room`. */
export function recordsFitting(batch: EncodedBatch, room: number): number {
  // ends[k - 1] is the size of the first k records with their commas.
  let lo = 0;
  let hi = batch.count;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (batch.ends[mid - 1]! <= room) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Two requests with the first and second half of `req`'s records (by count), ordered in its place. */
export function splitInHalves(req: OutgoingRequest): [OutgoingRequest, OutgoingRequest] {
  const half = Math.ceil(req.records / 2);
  const first: Piece[] = [];
  const second: Piece[] = [];
  let taken = 0;
  for (const p of req.pieces) {
    const n = p.batch.count;
    if (taken >= half) second.push(p);
    else if (taken + n <= half) first.push(p);
    else {
      const k = half - taken;
      first.push(subPiece(p, 0, k));
      second.push(subPiece(p, k, n));
    }
    taken += n;
  }
  return [makeRequest([...req.order, 0], first), makeRequest([...req.order, 1], second)];
}

/**
 * The records of one table on their way out, in order. Records wait in `pending` until a request is
 * full or the oldest has waited `flushIntervalMs`; requests are cut greedily up to `maxRequestBytes`
 * of JSON. Several requests of a table may be in flight; once one fails and waits for a retry (the
 * head), nothing later of the table is sent until the head got through, so that a table is never
 * reordered around a failure.
 */
export class Lane {
  private pending: Piece[] = [];
  private pendingStart = 0;
  /** Bytes of the pending pieces' records. */
  private pendingBytes = 0;
  /** Formed requests not in flight (split parts, requests waiting for a retry), by `order`. */
  private readonly queued: OutgoingRequest[] = [];
  private nextSeq = 0;
  /** The oldest failed request: while set, it alone may be sent, not before `blockedUntil`. */
  private head: OutgoingRequest | undefined;
  private headInFlight = false;
  private blockedUntil = 0;
  /** Consecutive failed attempts (reset by a success of the head). */
  failures = 0;
  /** Requests of this lane in flight. */
  inFlight = 0;

  constructor(
    readonly table: string,
    readonly stream: string,
    private readonly opts: LaneOptions,
  ) {}

  get pendingCount(): number {
    return this.pending.length - this.pendingStart;
  }

  /** True while a failed request of this table waits for its retry. */
  get retrying(): boolean {
    return this.head !== undefined;
  }

  /** True when nothing of this table is pending, queued or in flight. */
  get idle(): boolean {
    return this.pendingCount === 0 && this.queued.length === 0 && this.inFlight === 0;
  }

  add(piece: Piece): void {
    this.pending.push(piece);
    this.pendingBytes += piece.batch.data.length;
  }

  /**
   * The next request to send at `now`, counted as in flight, or undefined when the lane must wait.
   * `force` sends pending records without waiting for the flush interval (stopping, backpressure).
   */
  next(now: number, force: boolean): OutgoingRequest | undefined {
    if (this.head) {
      if (this.headInFlight || now < this.blockedUntil) return undefined;
      const req = this.queued.shift();
      if (!req) {
        this.head = undefined;
      } else {
        this.head = req;
        this.headInFlight = true;
        this.inFlight++;
        return req;
      }
    }
    const queued = this.queued.shift();
    if (queued) {
      this.inFlight++;
      return queued;
    }
    if (!this.pendingDue(now, force)) return undefined;
    const req = this.cut();
    this.inFlight++;
    return req;
  }

  /** When `next` may return a request (if a slot is free), or undefined when only a completion can change that. */
  nextDueAt(now: number, force: boolean): number | undefined {
    if (this.head) return this.headInFlight ? undefined : this.blockedUntil;
    if (this.queued.length > 0) return now;
    if (this.pendingCount === 0) return undefined;
    if (force || this.pendingFull()) return now;
    return this.pending[this.pendingStart]!.at + this.opts.flushIntervalMs;
  }

  /** `req` was delivered, or rejected for good. */
  done(req: OutgoingRequest): void {
    this.inFlight--;
    if (req === this.head) {
      this.head = undefined;
      this.headInFlight = false;
      this.failures = 0;
    }
  }

  /** `req` failed and is to be sent again after `delayMs`; later requests of the table wait. */
  retryLater(req: OutgoingRequest, now: number, delayMs: number): void {
    this.inFlight--;
    this.failures++;
    this.insert(req);
    if (this.head && this.headInFlight && this.head !== req) {
      // The head is being retried right now; this later request waits behind it.
      this.blockedUntil = Math.max(this.blockedUntil, now + delayMs);
      return;
    }
    this.head = this.queued[0];
    this.headInFlight = false;
    this.blockedUntil = req === this.head ? now + delayMs : Math.max(this.blockedUntil, now + delayMs);
  }

  /** `req` is replaced by `parts` (a split, or a re-encoded record), to be sent in its place. */
  replace(req: OutgoingRequest, parts: readonly OutgoingRequest[]): void {
    this.inFlight--;
    for (const p of parts) this.insert(p);
    if (req === this.head) {
      this.head = this.queued[0];
      this.headInFlight = false;
    }
  }

  /** `req` was abandoned (stopping): it goes back to the queue unsent. */
  abandon(req: OutgoingRequest): void {
    this.inFlight--;
    this.insert(req);
    if (req === this.head) this.headInFlight = false;
  }

  private insert(req: OutgoingRequest): void {
    let i = this.queued.length;
    while (i > 0 && compareOrder(this.queued[i - 1]!.order, req.order) > 0) i--;
    this.queued.splice(i, 0, req);
  }

  private pendingFull(): boolean {
    const bytes = arrayJsonBytes(this.pendingBytes, this.pendingCount);
    const eager = this.opts.limits.eagerBytes;
    return bytes >= this.opts.limits.requestBytes || (eager !== undefined && bytes >= eager);
  }

  private pendingDue(now: number, force: boolean): boolean {
    if (this.pendingCount === 0) return false;
    return force || this.pendingFull() || now - this.pending[this.pendingStart]!.at >= this.opts.flushIntervalMs;
  }

  /**
   * Takes the longest run of pending records that fits in one request (at least one record): whole
   * pieces, and the leading records of the piece that does not fit whole.
   */
  private cut(): OutgoingRequest {
    const max = this.opts.limits.requestBytes;
    const taken: Piece[] = [];
    let bytes = 2;
    while (this.pendingStart < this.pending.length) {
      const p = this.pending[this.pendingStart]!;
      const sep = taken.length > 0 ? 1 : 0;
      const size = p.batch.data.length;
      if (bytes + sep + size <= max) {
        taken.push(p);
        bytes += sep + size;
        this.pendingBytes -= size;
        this.pendingStart++;
        continue;
      }
      let k = recordsFitting(p.batch, max - bytes - sep);
      if (k === 0 && taken.length === 0) k = 1;
      if (k > 0) {
        const head = subPiece(p, 0, k);
        const rest = subPiece(p, k, p.batch.count);
        taken.push(head);
        this.pending[this.pendingStart] = rest;
        this.pendingBytes -= size - rest.batch.data.length;
      }
      break;
    }
    // Pieces hold whole queue entries: drop the references to the ones taken at once (there are few).
    this.pending.splice(0, this.pendingStart);
    this.pendingStart = 0;
    return makeRequest([this.nextSeq++], taken);
  }
}
