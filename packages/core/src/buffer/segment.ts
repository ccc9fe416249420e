import type { FileHandle } from 'node:fs/promises';
import { RecordIndex } from './record-index.js';

export type SegmentState = 'active' | 'sealing' | 'sealed';

/** One segment file: records with consecutive seqs starting at `firstSeq`. */
export class Segment {
  readonly index: RecordIndex;
  /** Bytes of the file (records written; for recovered segments the valid part). */
  size = 0;
  state: SegmentState = 'sealed';
  /** Write handle while active. */
  fh: FileHandle | undefined;
  /** Set while sealing: resolves to the fsync error, if any, once the write handle is closed. */
  sealed: Promise<unknown> | undefined;
  /** Removed by the drop_oldest policy or because its file vanished. */
  dropped = false;

  constructor(readonly firstSeq: number, readonly path: string, index?: RecordIndex) {
    this.index = index ?? new RecordIndex(256);
  }

  /** Last indexed seq (firstSeq - 1 when empty). */
  get lastSeq(): number {
    return this.firstSeq + this.index.count - 1;
  }
}
