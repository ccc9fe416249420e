import type { FileHandle } from 'node:fs/promises';
import { fingerprintOf, identityKey } from './file-identity.js';
import { RecordSplitter, type RecordSink, type RecordSplitterOptions } from './record-splitter.js';

/**
 * `active`: at a path matching the patterns. `rotated`: renamed out of the patterns, deleted, or the
 * copy a copytruncate left behind; drained, then released. `suspect`: a new file whose first bytes
 * equal those of a file already tailed (a copy in the making): not read until that is settled.
 */
export type TailState = 'active' | 'rotated' | 'suspect';

export interface TailedFileInit {
  readonly seq: number;
  readonly path: string;
  readonly origin: string;
  readonly fh: FileHandle;
  readonly dev: string;
  readonly ino: string;
  readonly prefix: Buffer;
  readonly offset: number;
  readonly state: TailState;
  /** Wall-clock ms when the file was first seen at a matching path (undefined: never, or not known). */
  readonly seenAtMs: number | undefined;
  /** A file first seen after start and read from offset 0: compared with other files on its first bytes. */
  readonly unclassified: boolean;
  readonly now: number;
  readonly splitter: RecordSplitterOptions;
  readonly sink: (file: TailedFile) => RecordSink;
}

/** One file being read: its identity, handle, positions and record splitter. */
export class TailedFile {
  /**
   * Order of the generations: an older file of the same origin is drained first. Equals the file's index
   * in the source's list (renumbered when a missed generation is inserted).
   */
  seq: number;
  /** Where the file is now (it moves on rename). */
  path: string;
  /** Where the file was first found: the FilePath of its records. */
  readonly origin: string;
  /** UTF-8 length of `origin`, for batch size estimates. */
  readonly originBytes: number;
  fh: FileHandle;
  dev: string;
  ino: string;
  /** Up to FINGERPRINT_BYTES first bytes of the content. */
  prefix: Buffer;
  /** Next byte to read. */
  readOffset: number;
  /** First byte not yet durably emitted. */
  committed: number;
  readonly splitter: RecordSplitter;
  readonly sink: RecordSink;
  state: TailState;
  /** See `TailedFileInit.seenAtMs`: bounds which rotated files can be generations after this one. */
  readonly seenAtMs: number | undefined;
  unclassified: boolean;
  /** The file a suspect seems to be a copy of. */
  copyOf: TailedFile | undefined;
  /** Caught up with the size seen at the last check. */
  atEof = false;
  /** Monotonic time of that check (when `atEof` was last found true). */
  eofAt = -Infinity;
  /** Clock time data was last read (or the file was opened). */
  lastGrowthAt: number;
  /** Clock time the file left the patterns. */
  goneAt = 0;
  /** Size last seen while a suspect. */
  suspectSize = -1;
  /** Monotonic time before which a file that failed is not read again. */
  retryAt = 0;
  /** Monotonic time the file was opened. */
  readonly openedAt: number;
  /** Removed from the source (released or replaced); commits to it are ignored. */
  retired = false;

  private fpCache: { prefix: Buffer; fp: string } | undefined;

  constructor(init: TailedFileInit, monotonicNow: number) {
    this.seq = init.seq;
    this.path = init.path;
    this.origin = init.origin;
    this.originBytes = Buffer.byteLength(init.origin);
    this.fh = init.fh;
    this.dev = init.dev;
    this.ino = init.ino;
    this.prefix = init.prefix;
    this.readOffset = init.offset;
    this.committed = init.offset;
    this.state = init.state;
    this.seenAtMs = init.seenAtMs;
    this.unclassified = init.unclassified;
    this.copyOf = undefined;
    this.lastGrowthAt = init.now;
    this.openedAt = monotonicNow;
    this.splitter = new RecordSplitter(init.splitter, init.offset);
    this.sink = init.sink(this);
  }

  get key(): string {
    return identityKey(this);
  }

  /** Fingerprint of the current prefix (cached). */
  fingerprint(): string {
    if (this.fpCache?.prefix !== this.prefix) {
      this.fpCache = { prefix: this.prefix, fp: fingerprintOf(this.prefix) };
    }
    return this.fpCache.fp;
  }
}
