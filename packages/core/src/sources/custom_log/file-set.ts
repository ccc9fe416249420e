import { constants } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../ports/clock.js';
import type { Logger } from '../../telemetry/logger.js';
import type { RecordSink, RecordSplitterOptions } from './record-splitter.js';
import { TailedFile, type TailState } from './tailed-file.js';
import { WINDOWS_FS } from '../../platform/host-os.js';

/** Directory entries examined when looking for a renamed file, a copytruncate copy or rotated generations. */
export const MAX_DIR_ENTRIES = 4096;

/** A file opened for reading, with the identity it had when opened. */
export interface OpenedFile {
  readonly fh: FileHandle;
  readonly dev: string;
  readonly ino: string;
  readonly path: string;
}

/** What a file starts being tailed with; `seq` is the next one in order unless given. */
export interface NewFile extends OpenedFile {
  readonly origin: string;
  readonly prefix: Buffer;
  readonly offset: number;
  readonly state: TailState;
  readonly unclassified: boolean;
  readonly seenAtMs: number | undefined;
  readonly seq?: number;
}

/** How a path found by a scan (or at start) is tailed. */
export interface TrackOptions {
  readonly offset: number | 'end';
  readonly unclassified: boolean;
  readonly origin: string;
  readonly seenAtMs: number | undefined;
  readonly seq?: number;
}

/** Opens for reading; never blocks on a FIFO that replaced a matched file. */
export function openForRead(path: string): Promise<FileHandle> {
  return WINDOWS_FS ? openFile(path, 'r') : openFile(path, constants.O_RDONLY | constants.O_NONBLOCK);
}

export function keyOf(dev: bigint | string, ino: bigint | string): string {
  return `${dev}:${ino}`;
}

export async function closeQuietly(fh: FileHandle, log: Logger): Promise<void> {
  try {
    await fh.close();
  } catch (err) {
    log.debug({ err }, 'file handle close failed');
  }
}

/**
 * The tailed files in generation order (`seq`, oldest first) and, separately, the index by identity
 * (device + inode) of the ones that own it: a file is indexed explicitly, since while a copytruncate is
 * handled the truncated file and the one that takes its place share an identity.
 */
export class FileSet {
  private files: TailedFile[] = [];
  private readonly byKey = new Map<string, TailedFile>();
  private seq = 0;

  constructor(
    private readonly clock: Clock,
    private readonly splitter: RecordSplitterOptions,
    private readonly sinkFor: (file: TailedFile) => RecordSink,
  ) {}

  /** Tailed files, oldest first (`retire` and `place` replace the array, `add` appends to it). */
  get all(): readonly TailedFile[] {
    return this.files;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get(key: string): TailedFile | undefined {
    return this.byKey.get(key);
  }

  /** Makes `f` the file known by its identity. */
  index(f: TailedFile): void {
    this.byKey.set(f.key, f);
  }

  /** Forgets `f`'s identity, unless another file owns it now. */
  unindex(f: TailedFile): void {
    if (this.byKey.get(f.key) === f) this.byKey.delete(f.key);
  }

  /** Starts tailing an opened file (not indexed yet). */
  add(init: NewFile): TailedFile {
    const f = new TailedFile(
      {
        ...init,
        seq: init.seq ?? this.seq++,
        now: this.clock.now(),
        splitter: this.splitter,
        sink: this.sinkFor,
      },
      performance.now(),
    );
    if (init.state === 'rotated') f.goneAt = this.clock.now();
    this.files.push(f);
    return f;
  }

  /** Removes `f`: commits to it are ignored from now on. Its handle is the caller's to close or reuse. */
  retire(f: TailedFile): void {
    f.retired = true;
    this.files = this.files.filter((x) => x !== f);
    this.unindex(f);
  }

  /** Files added from now on without a `seq` of their own get `next`, `next + 1`, … */
  numberFrom(next: number): void {
    this.seq = next;
  }

  /** Sorts the files by `seq` and renumbers them. */
  reorder(): void {
    this.files.sort((a, b) => a.seq - b.seq);
    this.renumber();
  }

  /** Moves `added` (in their order) right after or before a file in the generation order, and renumbers. */
  place(added: readonly TailedFile[], at: { after: TailedFile } | { before: TailedFile }): void {
    const moving = new Set(added);
    const rest = this.files.filter((f) => !moving.has(f)).sort((a, b) => a.seq - b.seq);
    const i = 'after' in at ? rest.indexOf(at.after) + 1 : rest.indexOf(at.before);
    rest.splice(i, 0, ...added);
    this.files = rest;
    this.renumber();
  }

  /** Forgets every file (their handles are the caller's to close). */
  clear(): void {
    this.files = [];
    this.byKey.clear();
  }

  private renumber(): void {
    this.files.forEach((f, i) => {
      f.seq = i;
    });
    this.seq = this.files.length;
  }
}
