/**
 * Splits one TCP connection's byte stream into syslog frames. The framing is detected from the first
 * byte (RFC 6587): a digit starts octet counting (`LEN SP MSG`), anything else means one message per
 * line (LF). Frames that lie whole in a chunk are handed over as views of it; a frame split across
 * chunks is gathered in the connection's own buffer (at most `maxMessageBytes`).
 */

/** What a framer reports besides frames. */
export interface FramerEvents {
  /** A frame (valid only during the call). */
  frame(buf: Buffer, start: number, end: number): void;
  /** A message longer than maxMessageBytes: its first maxMessageBytes were framed, the rest skipped. */
  truncated(): void;
  /** An octet-counting header that is not one: the stream is skipped to the next LF and framing detected again. */
  framingError(): void;
  /** The connection closed inside an octet-counted frame: the partial frame is dropped. */
  incomplete(): void;
}

const enum Mode {
  /** At the start of the stream (or after a framing error): the next byte decides. */
  Detect,
  /** Reading an octet count's digits. */
  Header,
  /** Gathering `need` more bytes of an octet-counted frame. */
  Body,
  /** Skipping `need` more bytes (the part of a frame beyond maxMessageBytes). */
  Skip,
  /** LF framing: gathering up to the next LF. */
  Line,
  /** LF framing: skipping to the next LF (after a cut line, or to re-sync after a framing error). */
  Discard,
}

const LF = 0x0a;
const MAX_LENGTH_DIGITS = 9;

export class TcpFramer {
  private mode = Mode.Detect;
  /** LF framing chosen for this connection. */
  private lines = false;
  /** Bytes still wanted in Body or Skip. */
  private need = 0;
  private count = 0;
  private digits = 0;
  /** Part of a frame gathered from earlier chunks. */
  private carry: Buffer | undefined;
  private carried = 0;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly on: FramerEvents,
  ) {}

  /** Feeds a chunk; frames complete in it are reported before this returns. */
  push(chunk: Buffer): void {
    const end = chunk.length;
    let p = 0;
    while (p < end) {
      switch (this.mode) {
        case Mode.Detect: {
          const c = chunk[p]!;
          if (c === LF || c === 0x0d || c === 0x20) {
            p++; // stray line ends between frames
            continue;
          }
          if (c >= 0x30 && c <= 0x39 && !this.lines) {
            this.mode = Mode.Header;
            this.count = 0;
            this.digits = 0;
          } else {
            this.lines = true;
            this.mode = Mode.Line;
          }
          continue;
        }
        case Mode.Header: {
          const c = chunk[p]!;
          if (c >= 0x30 && c <= 0x39 && this.digits < MAX_LENGTH_DIGITS) {
            this.count = this.count * 10 + c - 0x30;
            this.digits++;
            p++;
          } else if (c === 0x20 && this.digits > 0 && this.count === 0) {
            // `0 `: an empty frame (RFC 6587 wants a non-zero length; the parser counts it as empty).
            p++;
            this.mode = Mode.Detect;
            this.on.frame(chunk, p, p);
          } else if (c === 0x20 && this.digits > 0) {
            p++;
            this.carried = 0;
            if (this.count > this.maxMessageBytes) {
              this.need = this.maxMessageBytes;
              this.skipAfter = this.count - this.maxMessageBytes;
            } else {
              this.need = this.count;
              this.skipAfter = 0;
            }
            this.mode = Mode.Body;
          } else {
            this.on.framingError();
            this.mode = Mode.Discard;
            this.lines = false;
            this.resync = true;
          }
          continue;
        }
        case Mode.Body: {
          const n = Math.min(this.need, end - p);
          if (this.carried === 0 && n === this.need) {
            this.frameDone(chunk, p, p + n);
          } else {
            this.gather(chunk, p, p + n);
            this.need -= n;
            if (this.need === 0) this.frameDone(this.carry!, 0, this.carried);
          }
          p += n;
          continue;
        }
        case Mode.Skip: {
          const n = Math.min(this.need, end - p);
          this.need -= n;
          p += n;
          if (this.need === 0) this.mode = Mode.Detect;
          continue;
        }
        case Mode.Line: {
          const room = this.maxMessageBytes - this.carried;
          const lf = chunk.indexOf(LF, p);
          const stop = lf < 0 ? end : lf;
          if (stop - p > room) {
            // Longer than maxMessageBytes: the first part is the message, the rest of the line is skipped.
            this.on.truncated();
            if (this.carried === 0) {
              this.on.frame(chunk, p, p + room);
            } else {
              this.gather(chunk, p, p + room);
              this.on.frame(this.carry!, 0, this.carried);
            }
            this.carried = 0;
            this.mode = Mode.Discard;
            p += room;
            continue;
          }
          if (lf < 0) {
            this.gather(chunk, p, end);
            p = end;
            continue;
          }
          if (this.carried === 0) {
            this.on.frame(chunk, p, lf);
          } else {
            this.gather(chunk, p, lf);
            this.on.frame(this.carry!, 0, this.carried);
            this.carried = 0;
          }
          p = lf + 1;
          continue;
        }
        case Mode.Discard: {
          const lf = chunk.indexOf(LF, p);
          if (lf < 0) {
            p = end;
            continue;
          }
          p = lf + 1;
          this.mode = this.resync ? Mode.Detect : Mode.Line;
          this.resync = false;
          continue;
        }
      }
    }
  }

  /** Octet-counting state after the kept part of a frame. */
  private skipAfter = 0;
  /** After a framing error: detect the framing again at the next LF. */
  private resync = false;

  private frameDone(buf: Buffer, start: number, end: number): void {
    this.carried = 0;
    if (this.skipAfter > 0) {
      this.on.truncated();
      this.need = this.skipAfter;
      this.skipAfter = 0;
      this.mode = Mode.Skip;
    } else {
      this.mode = Mode.Detect;
    }
    this.on.frame(buf, start, end);
  }

  private gather(src: Buffer, start: number, end: number): void {
    const n = end - start;
    const need = this.carried + n;
    if (!this.carry || this.carry.length < need) {
      const next = Buffer.allocUnsafe(Math.min(this.maxMessageBytes, Math.max(need, 4096, (this.carry?.length ?? 0) * 2)));
      if (this.carry && this.carried > 0) this.carry.copy(next, 0, 0, this.carried);
      this.carry = next;
    }
    src.copy(this.carry, this.carried, start, end);
    this.carried = need;
  }

  /**
   * The connection ended: a last line without LF is a message; an octet-counted frame cut short (or a
   * header without its frame) is dropped and reported.
   */
  finish(): void {
    if (this.mode === Mode.Line && this.carried > 0) {
      this.on.frame(this.carry!, 0, this.carried);
    } else if (this.mode === Mode.Body || (this.mode === Mode.Header && this.digits > 0)) {
      this.on.incomplete();
    }
    this.carried = 0;
    this.carry = undefined;
    this.mode = Mode.Detect;
  }
}
