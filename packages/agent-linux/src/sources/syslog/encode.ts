import { maxEscapedBytes, writeEscapedString, writeEscapedUtf8, type EncodedBatchBuilder } from '@oma/core';
import { FACILITY_KEYWORDS, SEVERITY_KEYWORDS } from './names.js';
import type { ParsedSyslog } from './parse.js';

/** Who sent a message, as the record shows it: encoded once per peer. */
export interface Peer {
  /** `,"HostIP":"<address>"`. */
  readonly hostIPField: Buffer;
  /** HostName (JSON-escaped, no quotes) for a message that names no host. */
  readonly hostName: Buffer;
}

/** A peer of the given address; `hostName` is what HostName says when the message names no host. */
export function makePeer(address: string, hostName: string): Peer {
  return { hostIPField: Buffer.from(`,"HostIP":${JSON.stringify(address)}`), hostName: Buffer.from(JSON.stringify(hostName).slice(1, -1)) };
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
  /** `","Facility":"<f>","SeverityLevel":"<s>"` per PRI value. */
  private readonly priFields: Buffer[] = [];
  private readonly computerField: Buffer;
  private readonly tail: Buffer;
  private readonly fixed: number;
  private dayNum = Number.NaN;
  /** `YYYY-MM-DDT` of dayNum. */
  private dayText = Buffer.alloc(0);

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
    let pos = w.pos;
    pos = putAscii(out, pos, '{"TimeGenerated":"');
    pos = this.writeTime(receivedMs, out, pos);
    pos = putAscii(out, pos, '","EventTime":"');
    const t = m.timeMs;
    pos = this.writeTime(t === t && t >= -62_135_596_800_000 && t < 253_402_300_800_000 ? t : receivedMs, out, pos);
    pos = copy(this.computerField, out, pos);
    pos = m.hostStart >= 0 ? writeEscapedUtf8(src, m.hostStart, m.hostEnd, out, pos) : copy(peer.hostName, out, pos);
    out[pos++] = 0x22;
    pos = copy(peer.hostIPField, out, pos);
    pos = copy(this.priFields[m.pri]!, out, pos);
    if (m.appStart >= 0) {
      pos = putAscii(out, pos, ',"ProcessName":"');
      pos = writeEscapedUtf8(src, m.appStart, m.appEnd, out, pos);
      out[pos++] = 0x22;
    }
    if (m.pid >= 0) {
      pos = putAscii(out, pos, ',"ProcessID":');
      pos = putInt(out, pos, m.pid);
    }
    pos = putAscii(out, pos, ',"SyslogMessage":"');
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

  /** `YYYY-MM-DDTHH:MM:SS.mmmZ` of `ms` (without quotes); the date part is made once per day. */
  private writeTime(ms: number, out: Buffer, pos: number): number {
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.dayNum) {
      this.dayNum = day;
      this.dayText = Buffer.from(new Date(day * DAY_MS).toISOString().slice(0, -13));
    }
    pos = copy(this.dayText, out, pos);
    let r = ms - day * DAY_MS;
    const h = Math.floor(r / 3_600_000);
    r -= h * 3_600_000;
    const mi = Math.floor(r / 60_000);
    r -= mi * 60_000;
    const s = Math.floor(r / 1000);
    const f = Math.floor(r - s * 1000);
    out[pos++] = 0x30 + ((h / 10) | 0);
    out[pos++] = 0x30 + (h % 10);
    out[pos++] = 0x3a;
    out[pos++] = 0x30 + ((mi / 10) | 0);
    out[pos++] = 0x30 + (mi % 10);
    out[pos++] = 0x3a;
    out[pos++] = 0x30 + ((s / 10) | 0);
    out[pos++] = 0x30 + (s % 10);
    out[pos++] = 0x2e;
    out[pos++] = 0x30 + ((f / 100) | 0);
    out[pos++] = 0x30 + (((f / 10) | 0) % 10);
    out[pos++] = 0x30 + (f % 10);
    out[pos++] = 0x5a;
    return pos;
  }
}

function copy(b: Buffer, out: Buffer, pos: number): number {
  const n = b.length;
  if (n > 48) {
    b.copy(out, pos);
    return pos + n;
  }
  for (let i = 0; i < n; i++) out[pos + i] = b[i]!;
  return pos + n;
}

/** Writes an ASCII literal (the record's keys). */
function putAscii(out: Buffer, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
  return pos;
}

function putInt(out: Buffer, pos: number, v: number): number {
  if (v < 10) {
    out[pos++] = 0x30 + v;
    return pos;
  }
  return writeEscapedString(String(v), out, pos);
}
