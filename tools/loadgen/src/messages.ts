import { hostname } from 'node:os';

/** The syslog flavour of generated messages. */
export type MessageFormat = 'rfc3164' | 'rfc5424' | 'body';

export interface MessageOptions {
  /** rfc3164 (`<PRI>Mmm dd hh:mm:ss host tag[pid]: ...`), rfc5424, or only the body (for `logger`, which adds its own header). */
  readonly format: MessageFormat;
  /** Bytes per message (header included), at least what the header and the sequence number need. */
  readonly sizeBytes: number;
  /** PRI value: facility * 8 + severity (default 134, local0.info). */
  readonly pri?: number;
  readonly tag?: string;
  /** A word that names the run in every message, so that a receiver can tell its messages apart. */
  readonly runId?: string;
}

const SEQ_DIGITS = 10;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Renders numbered messages of a fixed size: one template per run, the sequence number written in place
 * (`<runId> <seq, 10 digits> <padding>` in the body), so that a receiver can count and check them.
 * The timestamp is the one of the run's start: generation costs a copy, not a clock read, per message.
 */
export class MessageFactory {
  private readonly template: Buffer;
  private readonly seqOffset: number;
  readonly sizeBytes: number;

  constructor(opts: MessageOptions, now = new Date()) {
    const pri = opts.pri ?? 134;
    const tag = opts.tag ?? 'loadgen';
    const runId = opts.runId ?? `run${process.pid}`;
    const host = hostname().split('.')[0] ?? 'localhost';
    const ts3164 = `${MONTHS[now.getMonth()]} ${String(now.getDate()).padStart(2, ' ')} ${now.toTimeString().slice(0, 8)}`;
    const header = opts.format === 'rfc3164'
      ? `<${pri}>${ts3164} ${host} ${tag}[${process.pid}]: `
      : opts.format === 'rfc5424'
        ? `<${pri}>1 ${now.toISOString()} ${host} ${tag} ${process.pid} - - `
        : '';
    const head = `${header}${runId} `;
    const min = Buffer.byteLength(head) + SEQ_DIGITS;
    if (opts.sizeBytes < min) throw new Error(`--size must be at least ${min} bytes for this header`);
    const padding = opts.sizeBytes - min > 0 ? ` ${'x'.repeat(opts.sizeBytes - min - 1)}` : '';
    this.template = Buffer.from(`${head}${'0'.repeat(SEQ_DIGITS)}${padding}`);
    this.seqOffset = Buffer.byteLength(head);
    this.sizeBytes = this.template.length;
  }

  /** Writes message `seq` into `target` at `offset` (sizeBytes bytes). */
  writeTo(seq: number, target: Buffer, offset: number): void {
    this.template.copy(target, offset);
    let v = seq;
    for (let i = this.seqOffset + SEQ_DIGITS - 1; i >= this.seqOffset; i--) {
      target[offset + i] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
  }

  /** Message `seq` in a new buffer. */
  render(seq: number): Buffer {
    const b = Buffer.allocUnsafe(this.sizeBytes);
    this.writeTo(seq, b, 0);
    return b;
  }
}

/** The sequence number of a generated message found in `text` after `runId`, or undefined. */
export function sequenceOf(text: string, runId: string): number | undefined {
  const at = text.indexOf(`${runId} `);
  if (at < 0) return undefined;
  const digits = text.slice(at + runId.length + 1, at + runId.length + 1 + SEQ_DIGITS);
  return /^\d+$/.test(digits) ? Number(digits) : undefined;
}
