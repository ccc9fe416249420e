import { AgentError } from '../errors.js';
import {
  JOURNAL_ENTRY_TRUNCATED,
  JOURNAL_FIELD_ABSENT,
  type JournalBatch,
  type JournalBinding,
  type JournalFileProblem,
  type JournalOpenOptions,
  type JournalReader,
  type JournalWaitResult,
} from '../ports/journal.js';

/** An entry a test writes into a journal (fake, or a real file through systemd-journal-remote). */
export interface JournalTestEntry {
  /** Field values: text, or raw bytes for a binary field. */
  readonly fields: Readonly<Record<string, string | Uint8Array>>;
  /** Realtime timestamp, µs since the epoch. */
  readonly realtimeUs: number;
  /** Monotonic timestamp in µs (default: the realtime one). */
  readonly monotonicUs?: number;
}

const BOOT_ID = '0123456789abcdef0123456789abcdef';

/**
 * The journal export format of `entries` (what `journalctl -o export` prints and
 * `systemd-journal-remote -` reads): `NAME=value` lines, and for a value that is binary or holds a
 * newline, the name, a 64-bit little-endian length and the raw bytes.
 */
export function toJournalExport(entries: readonly JournalTestEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const mono = e.monotonicUs ?? e.realtimeUs;
    parts.push(Buffer.from(`__REALTIME_TIMESTAMP=${e.realtimeUs}\n__MONOTONIC_TIMESTAMP=${mono}\n_BOOT_ID=${BOOT_ID}\n`));
    for (const [name, value] of Object.entries(e.fields)) {
      const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
      if (typeof value === 'string' && !value.includes('\n')) {
        parts.push(Buffer.from(`${name}=`), bytes, Buffer.from('\n'));
      } else {
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(bytes.length));
        parts.push(Buffer.from(`${name}\n`), len, bytes, Buffer.from('\n'));
      }
    }
    parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

interface StoredEntry {
  readonly seq: number;
  readonly file: string;
  readonly fields: ReadonlyMap<string, Buffer>;
  readonly realtimeUs: number;
  readonly monotonicUs: number;
}

/** `OMA_ERR_NATIVE` with the symbolic errno, as the real adapter throws. */
function nativeError(op: string, errno: string): AgentError {
  const err = new AgentError('OMA_ERR_NATIVE', `journal ${op} failed: ${errno}`);
  Object.assign(err, { errno, op });
  return err;
}

/**
 * A journal in memory, scriptable: tests write entries into named "files" (paths), fail reads, and
 * open readers over a file list, a directory (a path prefix, files added later included) or the
 * whole store (the system journal). Entries are ordered by when they were written, across files.
 * Obeys the `JournalReader` contract suite.
 */
export class FakeJournal implements JournalBinding {
  private readonly entries: StoredEntry[] = [];
  private seq = 0;
  private readonly readers = new Set<FakeJournalReader>();
  private readonly failures: string[] = [];
  /** Every open, in order (for tests that check what a source asked for). */
  readonly opened: JournalOpenOptions[] = [];
  /** Set to make `open` reject, e.g. with libsystemd missing. */
  openError: Error | undefined;
  /** Files that cannot be opened at all, with the errno opening them gives. */
  private readonly damaged = new Map<string, string>();

  /** Makes the file `path` unreadable as a whole (as a truncated journal file is: ENODATA). */
  damage(path: string, errno = 'ENODATA'): void {
    this.damaged.set(path, errno);
  }

  /** @internal */
  isDamaged(path: string): boolean {
    return this.damaged.has(path);
  }

  /** Appends entries to the journal file `path`; waiting readers over it are woken. */
  write(path: string, entries: readonly JournalTestEntry[]): void {
    for (const e of entries) {
      const fields = new Map<string, Buffer>();
      for (const [k, v] of Object.entries(e.fields)) fields.set(k, Buffer.from(typeof v === 'string' ? Buffer.from(v) : v));
      this.entries.push({ seq: ++this.seq, file: path, fields, realtimeUs: e.realtimeUs, monotonicUs: e.monotonicUs ?? e.realtimeUs });
    }
    for (const r of this.readers) if (r.covers(path)) r.wake();
  }

  /** Makes the next `read` of any reader throw OMA_ERR_NATIVE with this errno (EBADMSG: a corrupt file). */
  failNextRead(errno = 'EBADMSG'): void {
    this.failures.push(errno);
  }

  /** @internal */
  takeFailure(): string | undefined {
    return this.failures.shift();
  }

  /** @internal */
  all(): readonly StoredEntry[] {
    return this.entries;
  }

  /** Readers open now. */
  get openReaders(): number {
    return this.readers.size;
  }

  open(opts: JournalOpenOptions): Promise<JournalReader> {
    this.opened.push(opts);
    if (this.openError) return Promise.reject(this.openError);
    const loc = opts.location;
    const files = new Set(this.entries.map((e) => e.file));
    const inScope = loc.kind === 'files' ? loc.paths : loc.kind === 'directory' ? [...files].filter((f) => f.startsWith(`${loc.path}/`)) : [];
    const unreadable = inScope.filter((f) => this.damaged.has(f)).map((path) => ({ path, error: nativeError('open_files', this.damaged.get(path)!) }));
    if (loc.kind === 'files' && unreadable.length === loc.paths.length) return Promise.reject(unreadable[0]!.error);
    const r = new FakeJournalReader(this, opts, unreadable, () => this.readers.delete(r));
    this.readers.add(r);
    return Promise.resolve(r);
  }
}

class FakeJournalReader implements JournalReader {
  /** Sequence number of the last entry read (0: before the head). */
  private pos = 0;
  private closed = false;
  private waiter: ((r: JournalWaitResult) => void) | undefined;
  private changed = false;
  private readonly stride: number;
  private slab: Buffer;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private readonly times: Float64Array;
  private readonly flags: Uint8Array;
  private readonly fieldNames: readonly string[];

  constructor(
    private readonly journal: FakeJournal,
    private readonly opts: JournalOpenOptions,
    readonly unreadable: readonly JournalFileProblem[],
    private readonly onClose: () => void,
  ) {
    this.fieldNames = opts.fields;
    this.stride = opts.fields.length + 1;
    this.slab = Buffer.alloc(64 * 1024);
    this.offsets = new Uint32Array(opts.batchSize * this.stride);
    this.lengths = new Uint32Array(opts.batchSize * this.stride);
    this.times = new Float64Array(opts.batchSize * 2);
    this.flags = new Uint8Array(opts.batchSize);
  }

  covers(file: string): boolean {
    const loc = this.opts.location;
    if (loc.kind === 'system') return true;
    if (loc.kind === 'files') return loc.paths.includes(file);
    return file.startsWith(loc.path.endsWith('/') ? loc.path : `${loc.path}/`);
  }

  private matches(e: StoredEntry): boolean {
    const groups = this.opts.matches ?? [];
    if (groups.length === 0) return true;
    return groups.some((g) => {
      // Within a group: alternatives per field, every field must match.
      const byField = new Map<string, string[]>();
      for (const m of g) {
        const eq = m.indexOf('=');
        const name = m.slice(0, eq);
        byField.set(name, [...(byField.get(name) ?? []), m.slice(eq + 1)]);
      }
      for (const [name, values] of byField) {
        const v = e.fields.get(name);
        if (v === undefined || !values.some((x) => Buffer.from(x).equals(v))) return false;
      }
      return true;
    });
  }

  private visible(): StoredEntry[] {
    return this.journal.all().filter((e) => this.covers(e.file) && !this.journal.isDamaged(e.file) && this.matches(e));
  }

  private check(op: string): void {
    if (this.closed) throw new AgentError('OMA_ERR_COMPONENT', `journal ${op} after close`);
  }

  seekHead(): void {
    this.check('seekHead');
    this.pos = 0;
  }

  seekTail(): void {
    this.check('seekTail');
    const all = this.journal.all();
    this.pos = all.length > 0 ? all[all.length - 1]!.seq : 0;
  }

  seekCursor(cursor: string): void {
    this.check('seekCursor');
    const m = /^fake;s=(\d+)$/.exec(cursor);
    if (!m) throw nativeError('seekCursor', 'EINVAL');
    this.pos = Number(m[1]);
  }

  read(): JournalBatch {
    this.check('read');
    const failure = this.journal.takeFailure();
    if (failure !== undefined) throw nativeError('read', failure);
    const next = this.visible().filter((e) => e.seq > this.pos).slice(0, this.opts.batchSize);
    let size = 0;
    for (const e of next) {
      size += 32;
      for (const f of this.fieldNames) size += Math.min(e.fields.get(f)?.length ?? 0, this.opts.maxFieldBytes);
    }
    if (size > this.slab.length) this.slab = Buffer.alloc(size);
    let at = 0;
    next.forEach((e, i) => {
      const base = i * this.stride;
      const cursor = Buffer.from(`fake;s=${e.seq}`);
      this.slab.set(cursor, at);
      this.offsets[base] = at;
      this.lengths[base] = cursor.length;
      at += cursor.length;
      let flags = 0;
      this.fieldNames.forEach((f, k) => {
        let v = e.fields.get(f);
        if (v === undefined) {
          this.offsets[base + 1 + k] = JOURNAL_FIELD_ABSENT;
          this.lengths[base + 1 + k] = 0;
          return;
        }
        if (v.length > this.opts.maxFieldBytes) {
          v = v.subarray(0, this.opts.maxFieldBytes);
          flags |= JOURNAL_ENTRY_TRUNCATED;
        }
        this.slab.set(v, at);
        this.offsets[base + 1 + k] = at;
        this.lengths[base + 1 + k] = v.length;
        at += v.length;
      });
      this.times[2 * i] = e.realtimeUs;
      this.times[2 * i + 1] = e.monotonicUs;
      this.flags[i] = flags;
      this.pos = e.seq;
    });
    return { count: next.length, stride: this.stride, data: this.slab, offsets: this.offsets, lengths: this.lengths, times: this.times, flags: this.flags };
  }

  wake(): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w('changed');
    } else {
      this.changed = true;
    }
  }

  wait(timeoutMs: number): Promise<JournalWaitResult> {
    if (this.closed) return Promise.resolve('closed');
    if (this.waiter) return Promise.reject(new AgentError('OMA_ERR_COMPONENT', 'journal wait while another wait is under way'));
    if (this.changed) {
      this.changed = false;
      return Promise.resolve('changed');
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve('timeout');
      }, timeoutMs);
      timer.unref();
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    const w = this.waiter;
    this.waiter = undefined;
    w?.('closed');
  }
}
