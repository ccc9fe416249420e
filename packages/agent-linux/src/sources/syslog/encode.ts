import { maxEscapedBytes, writeEscapedUtf8, type EncodedBatchBuilder } from '@oma/core';
import { FACILITY_KEYWORDS, SEVERITY_KEYWORDS } from './names.js';
import type { ParsedSyslog } from './parse.js';

/** Who sent a message, as the record shows it: encoded once per peer. */
export interface Peer {
  /** `,"HostIP":"<address>"`. */
  readonly hostIPField: Buffer;
  /** HostName (JSON-escaped, no quotes) for a message that names no host. */
  readonly hostName: Buffer;
  /** `","HostIP":"<address>","Facility":"<f>","SeverityLevel":"<s>"` per PRI, made when first needed. */
  readonly priFields: Array<Buffer | undefined>;
}

/** A peer of the given address; `hostName` is what HostName says when the message names no host. */
export function makePeer(address: string, hostName: string): Peer {
  return {
    hostIPField: Buffer.from(`,"HostIP":${JSON.stringify(address)}`),
    hostName: Buffer.from(JSON.stringify(hostName).slice(1, -1)),
    priFields: new Array<Buffer | undefined>(192).fill(undefined),
  };
}

const DAY_MS = 86_400_000;
/** Bytes of a record besides its escaped fields and the peer's and host's names. */
const FIXED_BYTES = 400;

/**
 * Writes Syslog records (stream Microsoft-Syslog) from parsed frames straight into a batch:
 * `{"TimeGenerated":…,"EventTime":…,"Computer":…,"HostName":…,"HostIP":…,"Facility":…,"SeverityLevel":…,
 * "ProcessName":…,"ProcessID":…,"SyslogMessage":…,"CollectorHostName":…}`. Fields come from the frame's
 * bytes (escaped as they are copied); ProcessName and ProcessID are left out when the message has none.
 */
export class SyslogEncoder {
  /** `,"Facility":"<f>","SeverityLevel":"<s>"` per PRI value. */
  private readonly priFields: Buffer[] = [];
  /** `","Computer":"<computer>","HostName":"`. */
  private readonly computerField: Buffer;
  private readonly tail: Buffer;
  private readonly fixed: number;
  private dayNum = Number.NaN;
  /** `YYYY-MM-DDT` of dayNum. */
  private dayText = Buffer.alloc(0);
  /** `{"TimeGenerated":"<time>","EventTime":"` of headMs: messages received in the same ms share it. */
  private head = Buffer.alloc(0);
  private headMs = Number.NaN;
  /** `<time>","Computer":"<computer>","HostName":"` of eventMs: messages of the same second share it. */
  private event = Buffer.alloc(0);
  private eventMs = Number.NaN;

  constructor(computer: string) {
    for (let pri = 0; pri < 192; pri++) {
      this.priFields.push(Buffer.from(`,"Facility":"${FACILITY_KEYWORDS[pri >> 3]!}","SeverityLevel":"${SEVERITY_KEYWORDS[pri & 7]!}"`));
    }
    const c = JSON.stringify(computer);
    this.computerField = Buffer.from(`","Computer":${c},"HostName":"`);
    this.tail = Buffer.from(`,"CollectorHostName":${c}}`);
    this.fixed = FIXED_BYTES + this.computerField.length + this.tail.length;
  }

  /** Most bytes a record of a `frameBytes`-byte frame from `peer` takes. */
  maxRecordBytes(frameBytes: number, peer: Peer): number {
    return this.fixed + maxEscapedBytes(frameBytes) + peer.hostIPField.length + peer.hostName.length;
  }

  /**
   * Appends the record of `m` (parsed from `src`) to `w`, received at `receivedMs`; the message's own
   * time is EventTime (the receive time when it carries none).
   */
  write(w: EncodedBatchBuilder, src: Buffer, m: ParsedSyslog, receivedMs: number, peer: Peer, frameBytes: number): void {
    w.beginRecord();
    w.reserve(this.maxRecordBytes(frameBytes, peer));
    const out = w.buf;
    if (receivedMs !== this.headMs) {
      this.headMs = receivedMs;
      this.head = Buffer.from(`{"TimeGenerated":"${this.isoTime(receivedMs)}","EventTime":"`);
    }
    let pos = copy(this.head, out, w.pos);
    const t = m.timeMs;
    const eventMs = t === t && t >= MIN_TIME_MS && t < MAX_TIME_MS ? t : receivedMs;
    if (eventMs !== this.eventMs) {
      this.eventMs = eventMs;
      this.event = Buffer.concat([Buffer.from(this.isoTime(eventMs)), this.computerField]);
    }
    pos = copy(this.event, out, pos);
    pos = m.hostStart >= 0 ? writeEscapedUtf8(src, m.hostStart, m.hostEnd, out, pos) : copy(peer.hostName, out, pos);
    pos = copy(peer.priFields[m.pri] ?? this.peerPri(peer, m.pri), out, pos);
    if (m.appStart >= 0) {
      pos = copy(PROCESS_NAME, out, pos);
      pos = writeEscapedUtf8(src, m.appStart, m.appEnd, out, pos);
      out[pos++] = 0x22;
    }
    if (m.pid >= 0) {
      pos = copy(PROCESS_ID, out, pos);
      pos = putInt(out, pos, m.pid);
    }
    pos = copy(SYSLOG_MESSAGE, out, pos);
    if (m.sdStart >= 0) {
      pos = writeEscapedUtf8(src, m.sdStart, m.sdEnd, out, pos);
      if (m.msgEnd > m.msgStart) out[pos++] = 0x20;
    }
    pos = writeEscapedUtf8(src, m.msgStart, m.msgEnd, out, pos);
    out[pos++] = 0x22;
    pos = copy(this.tail, out, pos);
    w.pos = pos;
    w.endRecord();
  }

  private peerPri(peer: Peer, pri: number): Buffer {
    const b = Buffer.concat([QUOTE, peer.hostIPField, this.priFields[pri]!]);
    peer.priFields[pri] = b;
    return b;
  }

  /** `YYYY-MM-DDTHH:MM:SS.mmmZ` of `ms`; the date part is made once per day. */
  private isoTime(ms: number): string {
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.dayNum) {
      this.dayNum = day;
      this.dayText = Buffer.from(new Date(day * DAY_MS).toISOString().slice(0, -13));
    }
    let r = ms - day * DAY_MS;
    const h = Math.floor(r / 3_600_000);
    r -= h * 3_600_000;
    const mi = Math.floor(r / 60_000);
    r -= mi * 60_000;
    const s = Math.floor(r / 1000);
    const f = Math.floor(r - s * 1000);
    return `${this.dayText.toString('latin1')}${two(h)}:${two(mi)}:${two(s)}.${f < 10 ? '00' : f < 100 ? '0' : ''}${f}Z`;
  }
}

/** Times outside what an ISO string of four-digit years holds are replaced by the receive time. */
const MIN_TIME_MS = -62_135_596_800_000;
const MAX_TIME_MS = 253_402_300_800_000;
const QUOTE = Buffer.from('"');
const PROCESS_NAME = Buffer.from(',"ProcessName":"');
const PROCESS_ID = Buffer.from(',"ProcessID":');
const SYSLOG_MESSAGE = Buffer.from(',"SyslogMessage":"');

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Copies a piece made once (keys, names, times): `set` beats a byte loop here, measured. */
function copy(b: Buffer, out: Buffer, pos: number): number {
  out.set(b, pos);
  return pos + b.length;
}

/** Writes a non-negative integer in decimal. */
function putInt(out: Buffer, pos: number, v: number): number {
  let digits = 1;
  for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
  let p = pos + digits;
  let x = v;
  do {
    out[--p] = 0x30 + (x % 10);
    x = Math.floor(x / 10);
  } while (x > 0);
  return pos + digits;
}
