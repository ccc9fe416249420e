import type { FileHandle } from 'node:fs/promises';
import { maxEscapedBytes, writeEscapedString, writeEscapedUtf8 } from '../../encoding/json-escape.js';

/**
 * The per-record step of one tailed file: turns each record the splitter cut into the JSON object of one
 * row, written straight into the batch.
 */
export interface RecordEncoder {
  /** Most bytes `encode` writes for a record of `bytes` bytes (UTF-8). */
  maxBytes(bytes: number): number;
  /**
   * Writes the JSON object of the record `src[start, start + bytes)` (`src` itself when it is a string)
   * into `out` at `pos`, where `maxBytes(bytes)` bytes of room are reserved, and returns the position after
   * it; -1 when the record makes no row (the encoder accounts for it). `timeMs` is the record's own
   * timestamp, or the time it was read when it has none; `cutBytes` how many of its bytes were cut at the
   * size limit.
   */
  encode(src: Buffer | string, start: number, bytes: number, timeMs: number, cutBytes: number, out: Buffer, pos: number): number;
  /**
   * Called once before a file's first bytes are read when its reading starts past offset 0 (a resumed
   * position, `startAt: end`): restores what the lines before `offset` set (a format with a header).
   */
  resume?(fh: FileHandle, offset: number): Promise<void>;
}

/** How the records of a tailed file become rows: one encoder per file. */
export interface RecordFormat {
  /**
   * True: a last line without newline is sent as it is once it stayed unchanged `partialLineFlushMs`.
   * False: it waits for its newline, and is sent as it is only when its file can grow no more (released
   * after a rotation, truncated).
   */
  readonly flushPartialLines: boolean;
  /** The encoder of one file; `origin` is the path it was first found at. */
  encoderFor(file: { readonly origin: string; readonly path: string }): RecordEncoder;
}

/** Longest `{"TimeGenerated":"<ISO time>","RawData":"` (an ISO time has at most 27 characters). */
const MAX_HEAD_BYTES = 64;

/** `{"TimeGenerated":"<ISO time>","RawData":"` for a time in ms. */
function recordHead(ms: number): Buffer {
  return Buffer.from(`{"TimeGenerated":"${new Date(ms).toISOString()}","RawData":"`);
}

/**
 * The custom text-log table's rows, `{"TimeGenerated":…,"RawData":…,"FilePath":…,"Computer":…}`: the
 * record escaped into RawData from its bytes (no string or object is made for a line).
 */
export function textRecordFormat(computer: string): RecordFormat {
  return {
    flushPartialLines: true,
    encoderFor(file) {
      // `","FilePath":"<origin>","Computer":"<computer>"}`, escaped once per file.
      const tail = Buffer.from(`",${JSON.stringify('FilePath')}:${JSON.stringify(file.origin)},"Computer":${JSON.stringify(computer)}}`);
      let lastMs = NaN;
      let head: Buffer = Buffer.alloc(0);
      return {
        maxBytes: (bytes) => MAX_HEAD_BYTES + maxEscapedBytes(bytes) + tail.length,
        encode(src, start, bytes, timeMs, _cutBytes, out, at) {
          if (timeMs !== lastMs) {
            lastMs = timeMs;
            head = recordHead(timeMs);
          }
          out.set(head, at);
          let pos = at + head.length;
          pos = typeof src === 'string' ? writeEscapedString(src, out, pos) : writeEscapedUtf8(src, start, start + bytes, out, pos);
          out.set(tail, pos);
          return pos + tail.length;
        },
      };
    },
  };
}
