import type { Logger } from '../telemetry/logger.js';

export type FsyncPolicy =
  /** fsync after every append: an append resolves only once the data is on disk. */
  | 'always'
  /** Group commit: an fsync starts `fsyncIntervalMs` after the first unsynced append and covers every append written by then; an append resolves after it. (default) */
  | 'interval'
  /** Never fsync explicitly; the OS writes back when it likes. Fast, loses data on power failure. */
  | 'never';

export type FullPolicy =
  /** `append` waits until space is freed by acknowledgements: backpressure reaches the sources. */
  | 'block'
  /** The oldest segment is deleted (acknowledged or not) to make room; the loss is counted and logged. */
  | 'drop_oldest';

/** Why records left the queue without being acknowledged. */
export type QueueDropReason = 'corrupt' | 'full' | 'expired' | 'too_large';

export interface DiskQueueOptions {
  /** Directory owned by this queue (created if missing). */
  readonly dir: string;
  /** Total bytes on disk the queue may hold (segments). */
  readonly maxBytes: number;
  /** Size at which a segment file is closed and a new one started. */
  readonly segmentMaxBytes: number;
  readonly fsync: FsyncPolicy;
  readonly fsyncIntervalMs: number;
  readonly fullPolicy: FullPolicy;
  /**
   * Age policy: records appended longer ago than this are dropped instead of being read (counted as
   * 'expired'), and sealed segments whose newest record is that old are deleted unread. 0 or absent:
   * records stay until acknowledged (or dropped by the full policy).
   */
  readonly maxAgeMs?: number;
  readonly log: Logger;
  /**
   * Called when records are dropped: 'corrupt' (found damaged or missing, on recovery or on read),
   * 'full' (removed by the drop_oldest policy) or 'expired' (older than `maxAgeMs`). The queue never
   * reports 'too_large' itself: an oversized payload makes `append` reject, and the caller counts it.
   */
  readonly onDrop?: (count: number, reason: QueueDropReason) => void;
}

/** One stored record: a payload with its sequence number. */
export interface QueueEntry {
  readonly seq: number;
  readonly payload: Buffer;
  /** When the record was appended (ms since the epoch), kept in the record header. */
  readonly appendedAt: number;
}

export interface QueueStats {
  /** Bytes of the segment files on disk. */
  readonly bytes: number;
  /** Unacknowledged records. */
  readonly records: number;
  /** Append time of the oldest unacknowledged record, or undefined when empty. */
  readonly oldestAppendedAt: number | undefined;
  readonly nextSeq: number;
  readonly ackedThrough: number;
}

export interface RecoveryReport {
  /** Records replayed (unacknowledged at the last stop). */
  readonly replayed: number;
  /** Records lost to corruption or truncation. */
  readonly corrupt: number;
  /** Segment files that could not be read at all. */
  readonly badSegments: number;
}

/**
 * A durable, bounded FIFO of opaque payloads (one batch each) with acknowledgements.
 *
 * - `append` stores a payload and resolves to its seq once the payload is as durable as the fsync
 *   policy says. It rejects with OMA_ERR_BUFFER_FULL when the payload can never fit (larger than
 *   maxBytes or segmentMaxBytes minus the record header), and with OMA_ERR_BUFFER_CLOSED after close.
 *   Its `signal` applies while it waits for space ('block'); once admitted, the write completes.
 *   The payload must not be modified until the promise settles.
 * - `read` hands out the next unread record (waits when none, until `signal` aborts or the queue closes);
 *   records handed out and not acked are handed out again only after a restart (the reader owns retry).
 *   The returned payload is a copy the caller owns.
 * - `ack(seq)` marks one handed-out record done; acks may come out of order. Unknown, repeated, dropped
 *   and not-yet-read seqs are ignored. Only the contiguous acked-through mark is persisted, so acks
 *   above it are replayed after a restart (at-least-once). Segments are deleted oldest first, once the
 *   mark covers every record in them.
 */
export interface DiskQueue {
  readonly recovery: RecoveryReport;
  append(payload: Buffer, signal?: AbortSignal): Promise<number>;
  read(signal?: AbortSignal): Promise<QueueEntry | undefined>;
  ack(seq: number): void;
  stats(): QueueStats;
  /** Writes pending data and the ledger, with fsync (whatever the policy); settles waiting appends. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
