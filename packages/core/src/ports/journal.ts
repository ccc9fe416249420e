/**
 * The systemd journal. On Linux the real binding is the `journal` addon (agent-linux, libsystemd
 * loaded at run time); `@oma/core/testing` has a pure-TS fake, and both pass the same contract suite.
 */

/** Which journal to read. */
export type JournalLocation =
  /** The system journal (what `journalctl` shows); `localOnly` leaves out journals of other machines. */
  | { readonly kind: 'system'; readonly localOnly?: boolean }
  /** Every journal file in a directory, including files that appear in it later (rotation). */
  | { readonly kind: 'directory'; readonly path: string }
  /** These journal files only. */
  | { readonly kind: 'files'; readonly paths: readonly string[] };

export interface JournalOpenOptions {
  readonly location: JournalLocation;
  /**
   * Matches the journal evaluates for us, as `FIELD=value` strings: the entries that satisfy every
   * match of at least one group are read (`[['_SYSTEMD_UNIT=a.service'], ['_SYSTEMD_UNIT=b.service']]`
   * reads either unit). Matches on the same field inside one group are alternatives, as in journalctl.
   * Empty or absent: every entry.
   */
  readonly matches?: readonly (readonly string[])[];
  /** The fields copied out of each entry, in this order (besides the cursor and the timestamps). */
  readonly fields: readonly string[];
  /** Longest field value kept; longer ones are cut to this many bytes and the entry flagged. */
  readonly maxFieldBytes: number;
  /** Entries read per `read` call at most. */
  readonly batchSize: number;
}

/** Field `offsets` value of a field the entry does not have. */
export const JOURNAL_FIELD_ABSENT = 0xffff_ffff;
/** `flags` bit: a field was longer than `maxFieldBytes` and was cut. */
export const JOURNAL_ENTRY_TRUNCATED = 1;
/** `flags` bit: a field of the entry could not be read (a corrupt data object); it shows as absent. */
export const JOURNAL_ENTRY_BAD_FIELD = 2;

/**
 * Entries read in one call, as views over the reader's own slab. Valid until the next `read`: the
 * slab is reused, so copy (or encode) what you keep.
 */
export interface JournalBatch {
  readonly count: number;
  /** Slots per entry: 1 (the cursor) + the number of fields asked for. */
  readonly stride: number;
  readonly data: Buffer;
  /**
   * Entry i's cursor is `data[offsets[i*stride], +lengths[i*stride])`; its field f (in `fields`
   * order) is at slot `i*stride + 1 + f`, or `JOURNAL_FIELD_ABSENT` in `offsets` when the entry has
   * none. Values are raw bytes (a field can be binary).
   */
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** `times[2i]`: the entry's realtime timestamp in µs since the epoch; `times[2i+1]`: monotonic µs. */
  readonly times: Float64Array;
  /** `JOURNAL_ENTRY_*` bits per entry. */
  readonly flags: Uint8Array;
}

/** A journal file found unreadable as a whole when the reader opened (truncated, not a journal file). */
export interface JournalFileProblem {
  readonly path: string;
  /** `OMA_ERR_NATIVE` with the symbolic errno (ENODATA: truncated; EBADMSG, EPROTONOSUPPORT…). */
  readonly error: Error;
}

/** What a wait ended with. */
export type JournalWaitResult = 'changed' | 'timeout' | 'closed';

export interface JournalReader {
  /**
   * Files of a `files` or `directory` location that could not be opened at all, found when the reader
   * opened (the others are read). A file damaged only at its tail is read up to the damage instead
   * (libsystemd stops there without an error).
   */
  readonly unreadable: readonly JournalFileProblem[];
  /** Positions before the oldest entry. */
  seekHead(): void;
  /** Positions after the newest entry: only entries written later are read. */
  seekTail(): void;
  /**
   * Positions at a cursor from an earlier `read`: the next read starts with the entry after it (the
   * entry at the cursor is not read again). When that entry is gone (rotated away), reading starts
   * at the nearest entry. Throws `OMA_ERR_NATIVE` (EINVAL) for a string that is no cursor.
   */
  seekCursor(cursor: string): void;
  /**
   * Reads up to `batchSize` entries after the position and moves past them; count 0 when there is
   * nothing new. Throws `OMA_ERR_NATIVE` when the journal cannot be read at this point (a corrupt
   * file: EBADMSG); the entries before the damage are returned first, by the call before.
   */
  read(): JournalBatch;
  /**
   * Resolves when the journal may have new entries (appended, a new file), after `timeoutMs`, or
   * when the reader closes; never blocks the JS thread. One wait at a time.
   */
  wait(timeoutMs: number): Promise<JournalWaitResult>;
  /** Closes the journal; a wait under way resolves 'closed'. */
  close(): void;
}

/** Opens journals: the port a platform provides (agent-linux: the `journal` addon). */
export interface JournalBinding {
  /**
   * Opens the journal, positioned at its head. Rejects with `OMA_ERR_NATIVE_LOAD` when libsystemd
   * cannot be loaded, `OMA_ERR_NATIVE` (ENOENT, EACCES, …) when the journal cannot be opened (for a
   * `files` location: when none of the files can).
   */
  open(opts: JournalOpenOptions): Promise<JournalReader>;
}
