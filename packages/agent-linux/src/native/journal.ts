import { readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import {
  AgentError,
  type JournalBatch,
  type JournalBinding,
  type JournalFileProblem,
  type JournalOpenOptions,
  type JournalReader,
  type JournalWaitResult,
} from '@oma/core';
import { loadAddon } from './load.js';

/** The `journal` addon's surface (native/journal/src/linux/journal.cc). */
interface NativeJournal {
  openSystem(flags: number): number;
  openDirectory(path: string, flags: number): number;
  openFiles(paths: string[]): number;
  addMatch(match: Buffer): number;
  addDisjunction(): number;
  addConjunction(): number;
  setFields(fields: string[], maxFieldBytes: number): void;
  seekHead(): number;
  seekTail(): number;
  seekCursor(cursor: string): number;
  read(max: number, slab: Buffer, offsets: Uint32Array, lengths: Uint32Array, times: Float64Array, flags: Uint8Array): number;
  process(): number;
  startWait(cb: (result: number) => void): number;
  armWait(timeoutMs: number): void;
  close(): void;
}

interface JournalAddon {
  Journal: new () => NativeJournal;
}

/** sd_journal_open flags. */
const SD_JOURNAL_LOCAL_ONLY = 1;
const ENOBUFS = constants.errno.ENOBUFS;
/** Slab size a reader starts with; doubled (up to what one entry can need) when an entry does not fit. */
const INITIAL_SLAB_BYTES = 1024 * 1024;

/** Symbolic name of an errno (`EBADMSG`), or `E<n>` for one Node does not know. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === errno) return name;
  return `E${errno}`;
}

/** `OMA_ERR_NATIVE` for a failed sd_journal call: the operation and the symbolic errno. */
export function journalError(op: string, ret: number): AgentError {
  const errno = errnoName(-ret);
  const err = new AgentError('OMA_ERR_NATIVE', `journal ${op} failed: ${errno}`);
  Object.assign(err, { op, errno, syscall: `sd_journal_${op}` });
  return err;
}

function check(op: string, ret: number): void {
  if (ret < 0) throw journalError(op, ret);
}

/** A journal read through the addon: batches into one slab, waits on the addon's thread. */
class NativeJournalReader implements JournalReader {
  private slab: Buffer;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private readonly times: Float64Array;
  private readonly flags: Uint8Array;
  private readonly stride: number;
  /** Most bytes one entry can take: its fields cut at maxFieldBytes, and its cursor. */
  private readonly maxEntryBytes: number;
  private waiting: ((r: JournalWaitResult) => void) | undefined;
  private waitStarted = false;
  private closed = false;

  constructor(
    private readonly j: NativeJournal,
    private readonly opts: JournalOpenOptions,
    readonly unreadable: readonly JournalFileProblem[],
  ) {
    this.stride = opts.fields.length + 1;
    this.maxEntryBytes = opts.fields.length * opts.maxFieldBytes + 4096;
    this.slab = Buffer.allocUnsafe(Math.min(INITIAL_SLAB_BYTES, this.maxEntryBytes * opts.batchSize));
    this.offsets = new Uint32Array(opts.batchSize * this.stride);
    this.lengths = new Uint32Array(opts.batchSize * this.stride);
    this.times = new Float64Array(opts.batchSize * 2);
    this.flags = new Uint8Array(opts.batchSize);
  }

  private live(op: string): void {
    if (this.closed) throw new AgentError('OMA_ERR_COMPONENT', `journal ${op} after close`);
  }

  seekHead(): void {
    this.live('seekHead');
    check('seek_head', this.j.seekHead());
  }

  seekTail(): void {
    this.live('seekTail');
    check('seek_tail', this.j.seekTail());
  }

  seekCursor(cursor: string): void {
    this.live('seekCursor');
    check('seek_cursor', this.j.seekCursor(cursor));
  }

  read(): JournalBatch {
    this.live('read');
    let n = this.j.read(this.opts.batchSize, this.slab, this.offsets, this.lengths, this.times, this.flags);
    // The next entry alone does not fit: grow the slab to what any entry can need, and retry once.
    if (n === -ENOBUFS && this.slab.length < this.maxEntryBytes) {
      this.slab = Buffer.allocUnsafe(this.maxEntryBytes);
      n = this.j.read(this.opts.batchSize, this.slab, this.offsets, this.lengths, this.times, this.flags);
    }
    check('next', n);
    return { count: n, stride: this.stride, data: this.slab, offsets: this.offsets, lengths: this.lengths, times: this.times, flags: this.flags };
  }

  wait(timeoutMs: number): Promise<JournalWaitResult> {
    if (this.closed) return Promise.resolve('closed');
    if (this.waiting) return Promise.reject(new AgentError('OMA_ERR_COMPONENT', 'journal wait while another wait is under way'));
    if (!this.waitStarted) {
      check('get_fd', this.j.startWait((r) => this.woke(r)));
      this.waitStarted = true;
    }
    return new Promise((resolve, reject) => {
      this.waiting = (r) => {
        if (r !== 'changed') return resolve(r);
        // Take in the changes (new files, appended entries) on this thread: sd_journal is not thread-safe.
        const p = this.j.process();
        if (p < 0) reject(journalError('process', p));
        else resolve('changed');
      };
      this.j.armWait(Math.max(0, Math.floor(timeoutMs)));
    });
  }

  /** The wait thread's report: 1 changed, 0 timed out, -errno. Runs on the JS thread. */
  private woke(result: number): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (!w || this.closed) return;
    if (result < 0) {
      // poll failed: report as a change so the caller reads (and sees any error) rather than spins.
      w('changed');
      return;
    }
    w(result > 0 ? 'changed' : 'timeout');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.j.close();
    const w = this.waiting;
    this.waiting = undefined;
    w?.('closed');
  }
}

/**
 * The journal port over the `journal` addon. Loading the addon does not load libsystemd: opening a
 * journal does, and a host without it gets `OMA_ERR_NATIVE_LOAD` ("libsystemd.so.0 not found").
 */
export class NativeJournalBinding implements JournalBinding {
  private readonly addon: JournalAddon;

  /** Throws `OMA_ERR_NATIVE_LOAD` when the addon is not built (or this is not Linux). */
  constructor() {
    this.addon = loadAddon<JournalAddon>('journal');
  }

  open(opts: JournalOpenOptions): Promise<JournalReader> {
    return Promise.resolve().then(() => this.openNow(opts));
  }

  /** Runs a native open, turning a missing libsystemd into `OMA_ERR_NATIVE_LOAD`. */
  private nativeOpen(j: NativeJournal, open: (j: NativeJournal) => number): number {
    try {
      return open(j);
    } catch (cause) {
      if ((cause as { code?: string }).code === 'OMA_ERR_JOURNAL_LIBSYSTEMD') {
        throw new AgentError('OMA_ERR_NATIVE_LOAD', (cause as Error).message, { cause });
      }
      throw cause;
    }
  }

  /**
   * Files among `paths` that libsystemd cannot open at all, each tried alone: opening several files
   * fails for one bad file, and a directory's bad files are skipped without a word.
   */
  private probe(paths: readonly string[]): JournalFileProblem[] {
    const bad: JournalFileProblem[] = [];
    for (const path of paths) {
      const j = new this.addon.Journal();
      try {
        const r = this.nativeOpen(j, (x) => x.openFiles([path]));
        if (r < 0) bad.push({ path, error: journalError('open_files', r) });
      } finally {
        j.close();
      }
    }
    return bad;
  }

  private openNow(opts: JournalOpenOptions): JournalReader {
    const loc = opts.location;
    let unreadable: JournalFileProblem[] = [];
    let open: (j: NativeJournal) => number;
    if (loc.kind === 'system') {
      open = (j) => j.openSystem(loc.localOnly === true ? SD_JOURNAL_LOCAL_ONLY : 0);
    } else if (loc.kind === 'directory') {
      let names: string[] = [];
      try {
        names = readdirSync(loc.path).filter((n) => n.endsWith('.journal') || n.endsWith('.journal~'));
      } catch {
        // An unreadable or missing directory: opening it says why.
      }
      unreadable = this.probe(names.sort().map((n) => join(loc.path, n)));
      open = (j) => j.openDirectory(loc.path, 0);
    } else {
      unreadable = this.probe(loc.paths);
      const good = loc.paths.filter((p) => !unreadable.some((u) => u.path === p));
      if (good.length === 0) throw unreadable[0]!.error;
      open = (j) => j.openFiles(good);
    }
    const j = new this.addon.Journal();
    const r = this.nativeOpen(j, open);
    check(loc.kind === 'system' ? 'open' : loc.kind === 'directory' ? 'open_directory' : 'open_files', r);
    try {
      const groups = opts.matches ?? [];
      groups.forEach((g, i) => {
        if (i > 0) check('add_disjunction', j.addDisjunction());
        for (const m of g) check('add_match', j.addMatch(Buffer.from(m)));
      });
      j.setFields([...opts.fields], opts.maxFieldBytes);
      check('seek_head', j.seekHead());
    } catch (err) {
      j.close();
      throw err;
    }
    return new NativeJournalReader(j, opts, unreadable);
  }
}
