import { EncodedBatchBuilder } from '@oma/core';
import { bench, describe } from 'vitest';
import { SyslogEncoder, makePeer } from '../src/sources/syslog/encode.js';
import { ParsedSyslog, parseSyslog } from '../src/sources/syslog/parse.js';

/**
 * The syslog source's per-message work: parse a frame from its bytes and encode its Syslog record into
 * a batch (`parse + encode`), and the parse alone. Every operation handles MESSAGES messages of about
 * 150 bytes back to back in one buffer (as a drained datagram batch gives them; their time stamps
 * advance a second every 100 messages, as in a burst), so
 * ns per message = mean (ms) × 10^6 / MESSAGES = mean (ms) × 100.
 */
const MESSAGES = 10_000;

const WORDS = ['session', 'opened', 'for', 'user', 'root', 'by', 'uid', 'connection', 'from', 'port', 'accepted', 'closed'];

function pad(s: string, bytes: number): string {
  for (let w = 0; Buffer.byteLength(s) < bytes; w++) s += `${WORDS[w % WORDS.length]!} `;
  return s;
}

/** One message in each format, about 150 bytes. */
const FORMATS: Record<string, (i: number) => string> = {
  'RFC 3164': (i) => pad(`<86>Jun 15 11:59:${String(Math.floor(i / 100) % 60).padStart(2, "0")} web-${i % 12} sshd[${1000 + (i % 97)}]: req=${i} `, 150),
  'RFC 5424': (i) => pad(`<165>1 2026-06-15T11:59:${String(Math.floor(i / 100) % 60).padStart(2, "0")}.${String(Math.floor(i / 10) % 1000).padStart(3, "0")}Z web-${i % 12} nginx ${1000 + (i % 97)} - - req=${i} `, 150),
  'RFC 5424 with structured data': (i) => pad(`<165>1 2026-06-15T11:59:00.000Z web-${i % 12} app ${i % 97} ID47 [meta@1 seq="${i}" zone="eu"] `, 150),
};

function corpus(make: (i: number) => string): { src: Buffer; starts: Int32Array } {
  const parts = Array.from({ length: MESSAGES }, (_, i) => Buffer.from(make(i)));
  const starts = new Int32Array(MESSAGES + 1);
  for (let i = 0; i < MESSAGES; i++) starts[i + 1] = starts[i]! + parts[i]!.length;
  return { src: Buffer.concat(parts), starts };
}

const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);
const peer = makePeer('127.0.0.1', 'collector-01');
const encoder = new SyslogEncoder('collector-01');
const parsed = new ParsedSyslog();
const out = Buffer.allocUnsafe(8 * 1024 * 1024);

for (const [name, make] of Object.entries(FORMATS)) {
  const { src, starts } = corpus(make);
  describe(name, () => {
    bench('parse + encode', () => {
      const w = new EncodedBatchBuilder('Syslog', out.length, MESSAGES, out);
      for (let i = 0; i < MESSAGES; i++) {
        const s = starts[i]!;
        const e = starts[i + 1]!;
        parseSyslog(src, s, e, NOW, parsed);
        encoder.write(w, src, parsed, NOW, peer, e - s);
      }
      if (w.count !== MESSAGES) throw new Error('lost a message');
    });
    bench('parse only', () => {
      for (let i = 0; i < MESSAGES; i++) parseSyslog(src, starts[i]!, starts[i + 1]!, NOW, parsed);
    });
  });
}
