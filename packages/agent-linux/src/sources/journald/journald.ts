import {
  BufferPool,
  EncodedBatchBuilder,
  emitUntilQueued,
  JOURNAL_ENTRY_BAD_FIELD,
  JOURNAL_ENTRY_TRUNCATED,
  JOURNAL_FIELD_ABSENT,
  JSON_FORMAT_CODE,
  RateLimitedLog,
  errorType,
  frameRoom,
  maxEscapedBytes,
  writeEscapedUtf8,
  type CheckpointLoad,
  type JournalBatch,
  type JournalBinding,
  type JournalOpenOptions,
  type JournalReader,
  type Source,
  type SourceContext,
} from '@oma/core';
import type { JournaldConfig } from './config.js';
import { DEFAULT_PRIORITY, FACILITY_KEYWORDS, SEVERITY_KEYWORDS } from './syslog-keywords.js';

const TABLE = 'Syslog';
const MAX_EMITS_IN_FLIGHT = 4;
/** Wait after a failed read before reading again (a corrupt file: its damage may be behind us, or rotated away). */
const READ_RETRY_MS = 1000;

/** Slots of the fields read for every entry (processNameFields follow). */
const F_MESSAGE = 0;
const F_PRIORITY = 1;
const F_FACILITY = 2;
const F_TRANSPORT = 3;
const F_PID = 4;
const F_SYSLOG_PID = 5;
const F_HOSTNAME = 6;
const FIXED_FIELDS = ['MESSAGE', 'PRIORITY', 'SYSLOG_FACILITY', '_TRANSPORT', '_PID', 'SYSLOG_PID', '_HOSTNAME'];

const KERNEL = Buffer.from('kernel');

/** `,"Facility":"kern"` … per facility number; an unknown number gets its number as the keyword. */
const FACILITY_PARTS = FACILITY_KEYWORDS.map((k) => Buffer.from(`,"Facility":"${k}"`));
const SEVERITY_PARTS = SEVERITY_KEYWORDS.map((k) => Buffer.from(`,"SeverityLevel":"${k}"`));
const P_HOSTNAME = Buffer.from(',"HostName":"');
const P_PROCESS_NAME_FIRST = Buffer.from(',"ProcessName":"');
const P_PROCESS_ID = Buffer.from(',"ProcessID":');
const P_MESSAGE_AFTER_STRING = Buffer.from('","SyslogMessage":"');
const P_MESSAGE = Buffer.from(',"SyslogMessage":"');
const P_QUOTE = Buffer.from('"');
const P_END = Buffer.from('"}');
const P_CLOSE = Buffer.from('}');

/** The journal cursor saved in the source's checkpoint. */
interface JournaldCheckpoint {
  readonly cursor?: string;
}

function validateCheckpoint(state: Record<string, unknown>): string | undefined {
  if (state.cursor !== undefined && typeof state.cursor !== 'string') return 'cursor is not a string';
  return undefined;
}

/** Writes `part` into `out` at `pos`; returns the position after it. */
function put(out: Buffer, pos: number, part: Buffer): number {
  out.set(part, pos);
  return pos + part.length;
}

/** Writes a non-negative integer in decimal at `pos`; returns the position after it. */
function putUint(out: Buffer, pos: number, v: number): number {
  let digits = 1;
  for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
  let p = pos + digits;
  for (let x = v; p > pos; x = Math.floor(x / 10)) out[--p] = 0x30 + (x % 10);
  return pos + digits;
}

/** Parses a small unsigned decimal number from bytes; -1 when it is not one. */
function parseUint(buf: Buffer, start: number, len: number): number {
  if (len === 0 || len > 10) return -1;
  let v = 0;
  for (let i = start; i < start + len; i++) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** A batch being built, and the cursor of the last entry it took (saved once the batch is queued). */
interface PendingBatch {
  readonly builder: EncodedBatchBuilder;
  cursor: string | undefined;
  /** Index in the reader's current batch of the last entry taken, whose cursor is not read yet (-1: none). */
  last: number;
}

/** Entries read between two reopenings of the journal (each costs about 1 ms; bounds the mapped pages). */
const REOPEN_AFTER_ENTRIES = 50_000;

export interface JournaldSourceOptions {
  /** Entries read before the journal is opened again (default 50,000). */
  readonly reopenAfterEntries?: number;
}

/**
 * Reads the systemd journal through the `JournalReader` port and writes Syslog records: entries are
 * read in batches (filtered by the journal's own matches for units and fields), filtered by priority,
 * and encoded straight from the reader's buffer into JSON (no object per entry). The cursor of the
 * last entry of a batch is saved only once the pipeline queued the batch and every batch before it.
 */
export class JournaldSource implements Source {
  private reader: JournalReader | undefined;
  private readonly fields: readonly string[];
  private readonly nameSlots: readonly number[];
  private readonly maxSeverity: number;
  private readonly pool = new BufferPool(MAX_EMITS_IN_FLIGHT + 2);
  private readonly batchCapacity: number;
  private pending: PendingBatch;
  /** Batches complete and waiting to be emitted, in order. */
  private readonly full: PendingBatch[] = [];
  private readonly inFlight: Array<{ readonly b: PendingBatch; readonly queued: Promise<boolean> }> = [];
  /** Cursor of the newest entry whose batch (and every one before it) is queued. */
  private committed: string | undefined;
  private savedCursor: string | undefined;
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private readonly computerPart: Buffer;
  private lastTimeMs = NaN;
  private timePart: Buffer = Buffer.alloc(0);
  private readonly rate = new RateLimitedLog();
  private stopping = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private idleWake: (() => void) | undefined;
  private readonly labels: {
    readonly filtered: Readonly<Record<string, string>>;
    readonly truncated: Readonly<Record<string, string>>;
    readonly badField: Readonly<Record<string, string>>;
  };

  /** Entries read since the reader was (re)opened. */
  private sinceOpen = 0;
  private readonly reopenAfterEntries: number;

  constructor(
    private readonly config: JournaldConfig,
    private readonly ctx: SourceContext,
    private readonly binding: () => JournalBinding,
    opts: JournaldSourceOptions = {},
  ) {
    this.reopenAfterEntries = opts.reopenAfterEntries ?? REOPEN_AFTER_ENTRIES;
    const fields = [...FIXED_FIELDS];
    const nameSlots: number[] = [];
    for (const f of config.processNameFields) {
      let at = fields.indexOf(f);
      if (at < 0) at = fields.push(f) - 1;
      nameSlots.push(at);
    }
    this.fields = fields;
    this.nameSlots = nameSlots;
    this.maxSeverity = SEVERITY_KEYWORDS.indexOf(config.minPriority);
    this.batchCapacity = Math.min(config.maxBatchBytes + 64 * 1024, 8 * 1024 * 1024) + frameRoom(TABLE, config.maxBatchRecords);
    this.computerPart = Buffer.from(`,"Computer":${JSON.stringify(ctx.host.computer)}`);
    this.labels = {
      filtered: { ...ctx.labels, reason: 'filtered' },
      truncated: { ...ctx.labels, reason: 'field_truncated' },
      badField: { ...ctx.labels, reason: 'field_unreadable' },
    };
    this.pending = this.newBatch();
  }

  /** What the reader is opened with. */
  openOptions(): JournalOpenOptions {
    const c = this.config;
    const location: JournalOpenOptions['location'] =
      c.directory !== undefined
        ? { kind: 'directory', path: c.directory }
        : c.files !== undefined
          ? { kind: 'files', paths: c.files }
          : { kind: 'system', localOnly: c.localOnly };
    const group = [...c.units.map((u) => `_SYSTEMD_UNIT=${u.includes('.') ? u : `${u}.service`}`), ...c.matches];
    return {
      location,
      matches: group.length > 0 ? [group] : [],
      fields: this.fields,
      maxFieldBytes: c.maxFieldBytes,
      batchSize: c.maxBatchRecords,
    };
  }

  async start(): Promise<void> {
    let loaded: CheckpointLoad;
    try {
      loaded = await this.ctx.checkpoints.load(validateCheckpoint);
    } catch (err) {
      loaded = { state: {}, damage: { reason: `not loaded (${errorType(err)})`, fromBackup: false } };
    }
    if (loaded.damage) {
      this.ctx.log.warn({ reason: loaded.damage.reason, keptAs: loaded.damage.keptAs, fromBackup: loaded.damage.fromBackup }, 'journald checkpoint damaged');
    }
    const cursor = (loaded.state as JournaldCheckpoint).cursor;
    let reader: JournalReader;
    try {
      reader = await this.binding().open(this.openOptions());
    } catch (err) {
      if ((err as { code?: unknown }).code === 'OMA_ERR_NATIVE_LOAD') {
        // No journal support on this host (addon not built, or no libsystemd): said once, the rest runs.
        this.ctx.log.error({ err }, 'journal unavailable on this host; journald source idle');
        return;
      }
      throw err;
    }
    this.reader = reader;
    for (const p of reader.unreadable) {
      // Its entries are lost to this source: said once per start, counted.
      this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(p.error), stage: 'open' });
      this.ctx.log.error({ err: p.error, path: p.path }, 'journal file unreadable; skipped');
    }
    this.committed = this.savedCursor = cursor;
    try {
      this.position(reader, cursor);
    } catch (err) {
      reader.close();
      throw err;
    }
    // A reader loop that dies is reported: the pipeline replaces this instance from the saved cursor.
    this.loop = this.run(reader).catch((err: unknown) => this.ctx.fail(err));
  }

  /** Positions the reader after the saved cursor, or per `startAt` without a usable one. */
  private position(reader: JournalReader, cursor: string | undefined): void {
    if (cursor !== undefined) {
      try {
        reader.seekCursor(cursor);
        return;
      } catch (err) {
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'seek' });
        this.ctx.log.warn({ err, startAt: this.config.startAt }, 'saved journal cursor not usable; starting over');
      }
    }
    this.seekStart(reader);
  }

  private seekStart(reader: JournalReader): void {
    if (this.config.startAt === 'head') reader.seekHead();
    else reader.seekTail();
  }

  stop(signal: AbortSignal): Promise<void> {
    this.stopPromise ??= this.shutdown(signal);
    return this.stopPromise;
  }

  private async shutdown(signal: AbortSignal): Promise<void> {
    this.stopping = true;
    const onAbort = (): void => this.abort.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      // A wait under way ends ('closed'); the loop hands over what it read and ends.
      this.reader?.close();
      this.idleWake?.();
      await this.loop;
      await this.saving;
      await this.saveLoop();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async run(reader: JournalReader): Promise<void> {
    while (!this.stopping) {
      let batch: JournalBatch;
      try {
        batch = reader.read();
      } catch (err) {
        if (this.stopping) break;
        this.readFailed(err);
        await this.emitPending();
        await this.idle(READ_RETRY_MS);
        continue;
      }
      if (batch.count === 0) {
        // Caught up: hand over what was read, then wait for the journal to change.
        await this.emitPending();
        if (this.stopping) break;
        try {
          await reader.wait(this.config.waitTimeoutMs);
        } catch (err) {
          if (this.stopping) break;
          this.readFailed(err);
          await this.idle(READ_RETRY_MS);
        }
        continue;
      }
      this.encode(batch);
      this.sinceOpen += batch.count;
      if (this.sinceOpen >= this.reopenAfterEntries) reader = await this.reopen(reader, batch);
      if (!(await this.emitFull())) break;
    }
    // Entries read are handed over (unless the stop deadline passed); their cursor is then saved.
    await this.emitPending();
  }

  /**
   * Opens the journal again and positions it after the last entry of `batch` (already encoded): libsystemd
   * keeps the windows of the files it read mapped until the journal is closed, so a long read would
   * keep hundreds of MiB of journal pages resident (docs/journald.md#memory). On failure the open reader
   * reads on.
   */
  private async reopen(old: JournalReader, batch: JournalBatch): Promise<JournalReader> {
    this.sinceOpen = 0;
    const slot = (batch.count - 1) * batch.stride;
    const cursor = batch.data.toString('latin1', batch.offsets[slot], batch.offsets[slot]! + batch.lengths[slot]!);
    let next: JournalReader | undefined;
    try {
      next = await this.binding().open(this.openOptions());
      next.seekCursor(cursor);
    } catch (err) {
      next?.close();
      this.warn('reopen', { err }, 'journal not reopened; reading on with the open reader');
      return old;
    }
    if (this.stopping) {
      // Stopping closed the old reader; the loop ends on its next turn.
      next.close();
      return old;
    }
    this.reader = next;
    old.close();
    return next;
  }

  /** A read that failed (a corrupt journal file, EBADMSG): counted, logged (rate-limited), read again later. */
  private readFailed(err: unknown): void {
    this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'read' });
    this.warn(`read:${errorType(err)}`, { err }, 'journal read failed; reading on after a pause');
  }

  private warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.rate.admit(key);
    if (suppressed < 0) return;
    this.ctx.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }

  private newBatch(): PendingBatch {
    const max = this.config.maxBatchRecords;
    return { builder: new EncodedBatchBuilder(TABLE, this.batchCapacity, Math.min(max, 1024), this.pool.take(this.batchCapacity), { maxRecords: max }), cursor: undefined, last: -1 };
  }

  /** `{"TimeGenerated":"<t>","EventTime":"<t>"` for a time in ms (the last one kept: entries come in order). */
  private timeHead(ms: number): Buffer {
    if (ms !== this.lastTimeMs) {
      this.lastTimeMs = ms;
      const iso = new Date(ms).toISOString();
      this.timePart = Buffer.from(`{"TimeGenerated":"${iso}","EventTime":"${iso}"`);
    }
    return this.timePart;
  }

  /** Encodes the batch's entries that pass the priority filter as Syslog records into the pending batch. */
  private encode(batch: JournalBatch): void {
    const { data, offsets, lengths, times, flags, stride } = batch;
    const maxRecords = this.config.maxBatchRecords;
    const maxBytes = this.config.maxBatchBytes;
    let filtered = 0;
    let truncated = 0;
    let bad = 0;
    for (let i = 0; i < batch.count; i++) {
      const base = i * stride;
      const slot = (f: number): number => base + 1 + f;
      const pOff = offsets[slot(F_PRIORITY)]!;
      let priority = pOff === JOURNAL_FIELD_ABSENT ? DEFAULT_PRIORITY : parseUint(data, pOff, lengths[slot(F_PRIORITY)]!);
      if (priority < 0 || priority > 7) priority = DEFAULT_PRIORITY;
      if (priority > this.maxSeverity) {
        filtered++;
        this.pending.last = i;
        continue;
      }
      const fl = flags[i]!;
      if ((fl & JOURNAL_ENTRY_TRUNCATED) !== 0) truncated++;
      if ((fl & JOURNAL_ENTRY_BAD_FIELD) !== 0) bad++;

      // Room: the fixed parts, and every field escaped at worst.
      let size = 256 + this.computerPart.length;
      for (let f = 0; f < this.fields.length; f++) size += maxEscapedBytes(lengths[slot(f)]!);
      if (this.pending.builder.count > 0 && this.pending.builder.bytes + size > maxBytes) this.rollOver(batch);
      const b = this.pending;
      const w = b.builder;
      w.beginRecord();
      w.reserve(size);
      const out = w.buf;
      let pos = w.pos;
      const head = this.timeHead(Math.floor(times[2 * i]! / 1000));
      pos = put(out, pos, head);
      pos = put(out, pos, this.computerPart);
      // HostName
      const hOff = offsets[slot(F_HOSTNAME)]!;
      if (hOff !== JOURNAL_FIELD_ABSENT) {
        pos = put(out, pos, P_HOSTNAME);
        pos = writeEscapedUtf8(data, hOff, hOff + lengths[slot(F_HOSTNAME)]!, out, pos);
        pos = put(out, pos, P_QUOTE);
      }
      // Facility: SYSLOG_FACILITY, else kern for the kernel's messages and user for the others.
      const fOff = offsets[slot(F_FACILITY)]!;
      let facility = fOff === JOURNAL_FIELD_ABSENT ? -1 : parseUint(data, fOff, lengths[slot(F_FACILITY)]!);
      if (facility < 0 || facility >= FACILITY_PARTS.length) {
        const tOff = offsets[slot(F_TRANSPORT)]!;
        const isKernel = tOff !== JOURNAL_FIELD_ABSENT && KERNEL.compare(data, tOff, tOff + lengths[slot(F_TRANSPORT)]!) === 0;
        facility = isKernel ? 0 : 1;
      }
      pos = put(out, pos, FACILITY_PARTS[facility]!);
      pos = put(out, pos, SEVERITY_PARTS[priority]!);
      // ProcessID: _PID, else SYSLOG_PID.
      let pid = -1;
      const pidOff = offsets[slot(F_PID)]!;
      if (pidOff !== JOURNAL_FIELD_ABSENT) pid = parseUint(data, pidOff, lengths[slot(F_PID)]!);
      if (pid < 0) {
        const sOff = offsets[slot(F_SYSLOG_PID)]!;
        if (sOff !== JOURNAL_FIELD_ABSENT) pid = parseUint(data, sOff, lengths[slot(F_SYSLOG_PID)]!);
      }
      if (pid >= 0 && pid <= 0x7fffffff) {
        pos = put(out, pos, P_PROCESS_ID);
        pos = putUint(out, pos, pid);
      }
      // ProcessName: the first of processNameFields the entry has.
      let inString = false;
      for (const s of this.nameSlots) {
        const nOff = offsets[slot(s)]!;
        if (nOff === JOURNAL_FIELD_ABSENT) continue;
        pos = put(out, pos, P_PROCESS_NAME_FIRST);
        pos = writeEscapedUtf8(data, nOff, nOff + lengths[slot(s)]!, out, pos);
        inString = true;
        break;
      }
      // SyslogMessage: the bytes decoded as UTF-8, invalid sequences replaced by U+FFFD.
      const mOff = offsets[slot(F_MESSAGE)]!;
      if (mOff !== JOURNAL_FIELD_ABSENT) {
        pos = put(out, pos, inString ? P_MESSAGE_AFTER_STRING : P_MESSAGE);
        pos = writeEscapedUtf8(data, mOff, mOff + lengths[slot(F_MESSAGE)]!, out, pos);
        pos = put(out, pos, P_END);
      } else {
        pos = put(out, pos, inString ? P_END : P_CLOSE);
      }
      w.pos = pos;
      w.endRecord();
      b.last = i;
      if (w.count >= maxRecords) this.rollOver(batch);
    }
    // The pending batch goes on with the next read: the cursor of its last entry is taken while the slab holds it.
    this.takeCursor(this.pending, batch);
    if (filtered > 0) this.ctx.metrics.recordsDropped.inc(this.labels.filtered, filtered);
    if (truncated > 0) {
      this.ctx.metrics.recordsDropped.inc(this.labels.truncated, truncated);
      this.warn('truncated', { count: truncated, maxFieldBytes: this.config.maxFieldBytes }, 'journal fields longer than maxFieldBytes; truncated');
    }
    if (bad > 0) {
      this.ctx.metrics.recordsDropped.inc(this.labels.badField, bad);
      this.warn('bad_field', { count: bad }, 'journal entries with unreadable fields (corrupt data); sent without them');
    }
  }

  /** The cursor of the last entry `b` took from `batch` (read from the slab only here: once per batch, not per entry). */
  private takeCursor(b: PendingBatch, batch: JournalBatch): void {
    if (b.last < 0) return;
    const at = batch.offsets[b.last * batch.stride]!;
    b.cursor = batch.data.toString('latin1', at, at + batch.lengths[b.last * batch.stride]!);
    b.last = -1;
  }

  /** The pending batch is full (or to be sent now): it waits to be emitted, and a new one is begun. */
  private rollOver(batch?: JournalBatch): void {
    if (batch) this.takeCursor(this.pending, batch);
    this.full.push(this.pending);
    this.pending = this.newBatch();
  }

  /** Emits the full batches in order, waiting only while MAX_EMITS_IN_FLIGHT are under way; false when stopping cut it short. */
  private async emitFull(): Promise<boolean> {
    while (this.full.length > 0) {
      const b = this.full.shift()!;
      this.inFlight.push({ b, queued: b.builder.count === 0 ? Promise.resolve(true) : this.emitBatch(b) });
      while (this.inFlight.length >= MAX_EMITS_IN_FLIGHT) {
        if (!(await this.settleOldest())) return false;
      }
    }
    return true;
  }

  /** Emits everything read so far and waits until all of it is queued. */
  private async emitPending(): Promise<void> {
    if (this.pending.builder.count > 0 || this.pending.cursor !== undefined) this.rollOver();
    if (!(await this.emitFull())) return;
    while (this.inFlight.length > 0) {
      if (!(await this.settleOldest())) return;
    }
  }

  private async settleOldest(): Promise<boolean> {
    const first = this.inFlight[0]!;
    if (!(await first.queued)) {
      // Given up (stopping): later batches may be queued too, but the cursor stays where it was (at least once).
      this.inFlight.length = 0;
      return false;
    }
    this.inFlight.shift();
    if (first.b.cursor !== undefined) {
      this.committed = first.b.cursor;
      this.requestSave();
    }
    this.pool.give(first.b.builder.buf);
    return true;
  }

  /** Hands a batch to the pipeline, retrying with backoff until it is queued; false when stopping gave it up. */
  private emitBatch(b: PendingBatch): Promise<boolean> {
    return emitUntilQueued(b.builder.finishFrame(JSON_FORMAT_CODE), {
      ctx: this.ctx,
      signal: this.abort.signal,
      stopping: () => this.stopping,
      sleep: (ms) => this.idle(ms),
      failed: (err, batch) => {
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'emit' });
        this.warn('emit', { err, count: batch.count }, 'batch not queued; retrying');
      },
    });
  }

  /** Saves the committed cursor soon: one save at a time, the newest cursor at each. */
  private requestSave(): void {
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    this.saving = this.saveLoop().finally(() => {
      this.saving = undefined;
    });
  }

  private async saveLoop(): Promise<void> {
    do {
      this.saveAgain = false;
      const cursor = this.committed;
      if (cursor === undefined || cursor === this.savedCursor) continue;
      try {
        await this.ctx.checkpoints.save({ cursor });
        this.savedCursor = cursor;
      } catch (err) {
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'checkpoint' });
        this.warn('checkpoint', { err }, 'journal cursor not saved');
      }
    } while (this.saveAgain);
  }

  private idle(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.idleWake = done;
    });
  }
}
