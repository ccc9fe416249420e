import type { Clock } from '../ports/clock.js';
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
  | 'drop_oldest'
  /** New payloads are refused (counted and logged) while the queue is full; what it holds is kept. */
  | 'drop_newest';

/**
 * Why records left the queue without being acknowledged (or never entered it): 'corrupt' (found damaged
 * or missing), 'full' (the full policy dropped them: maxBytes reached), 'no_space' (the full policy
 * dropped them because the device was full or below the free-space floor), 'expired' (older than
 * `maxAgeMs`), 'too_large' (larger than the queue can ever hold; counted by the caller).
 */
export type QueueDropReason = 'corrupt' | 'full' | 'no_space' | 'expired' | 'too_large';

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
  /**
   * Free-space floor: the queue treats its device as full (its `fullPolicy` applies) while writing would
   * leave less than this many bytes free, so that its own backlog never takes the device to zero.
   * The effective floor is the smaller of this and `minFreePercent` of the device. 0: no floor.
   */
  readonly minFreeBytes?: number;
  /** Free-space floor as a percentage of the device's size (see `minFreeBytes`). 0: no floor. */
  readonly minFreePercent?: number;
  readonly log: Logger;
  /** Time source for append times and the age policy (default: the system clock). */
  readonly clock?: Clock;
  /**
   * Called when records are dropped, with the number of telemetry records (see QueueDropReason). The
   * queue never reports 'too_large' itself: an oversized payload makes `append` reject, and the caller
   * counts it.
   */
  readonly onDrop?: (records: number, reason: QueueDropReason) => void;
  /**
   * Counts the telemetry records in a payload of a segment written by an older version (whose records
   * do not carry their count), while it is converted on open. Default: 1 per payload.
   */
  readonly recordsOfLegacyPayload?: (payload: Buffer) => number;
}

/** One stored entry: a payload with its sequence number. */
export interface QueueEntry {
  readonly seq: number;
  readonly payload: Buffer;
  /** Telemetry records the payload carries, as given to `append`. */
  readonly records: number;
  /** When the record was appended (ms since the epoch), kept in the record header. */
  readonly appendedAt: number;
}

export interface QueueStats {
  /** Bytes of the segment files on disk. */
  readonly bytes: number;
  /** Telemetry records in the unacknowledged entries. */
  readonly records: number;
  /** Unacknowledged entries (payloads). */
  readonly entries: number;
  /** True while writes are held (or dropped, per the full policy) because the device is full or below the floor. */
  readonly noSpace: boolean;
  /** Free bytes on the queue's device at the last check (undefined where the OS does not say). */
  readonly deviceFreeBytes: number | undefined;
  /** Append time of the oldest unacknowledged record, or undefined when empty. */
  readonly oldestAppendedAt: number | undefined;
  readonly nextSeq: number;
  readonly ackedThrough: number;
}

export interface RecoveryReport {
  /** Telemetry records replayed (unacknowledged at the last stop). */
  readonly replayed: number;
  /** Telemetry records lost to corruption or truncation (see `corruptEstimated`). */
  readonly corrupt: number;
  /** Entries (payloads) lost to corruption or truncation. */
  readonly corruptEntries: number;
  /**
   * True when some lost entries could not be read at all, so their record count is estimated from the
   * entries that could (their average).
   */
  readonly corruptEstimated: boolean;
  /** Segment files found damaged: unreadable, or holding damaged records (counted as lost once). */
  readonly badSegments: number;
  /** Segment files of an older layout converted on open. */
  readonly converted: number;
}

/**
 * A durable, bounded FIFO of opaque payloads (one batch each) with acknowledgements.
 *
 * - `append` stores a payload carrying `records` telemetry records and resolves to its seq once the
 *   payload is as durable as the fsync policy says. It rejects with OMA_ERR_BUFFER_TOO_LARGE when the
 *   payload can never fit (larger than maxBytes or segmentMaxBytes minus the record header), and with
 *   OMA_ERR_BUFFER_CLOSED after close. It waits while the queue is full ('block'), also when its device
 *   is full or below the free-space floor: a full disk is backpressure, never an error. Its `signal`
 *   applies while it waits for space; once admitted, the write completes. Under 'drop_newest' a payload
 *   that does not fit resolves to 0 (not stored, counted). The payload must not be modified until the
 *   promise settles.
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
  append(payload: Buffer, records: number, signal?: AbortSignal): Promise<number>;
  read(signal?: AbortSignal): Promise<QueueEntry | undefined>;
  ack(seq: number): void;
  stats(): QueueStats;
  /**
   * Gives back the payload of an entry from `read` once nothing refers to its memory any more (its
   * destination settled it): the queue may read later entries into it. Optional to call.
   */
  recycle(payload: Buffer): void;
  /** Writes pending data and the ledger, with fsync (whatever the policy); settles waiting appends. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
