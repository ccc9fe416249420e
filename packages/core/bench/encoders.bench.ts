import { bench, describe } from 'vitest';
import { decodeFrame, decodeJsonRecords, EncodedBatchBuilder, encodeFrame, encodeJsonRecords, maxEscapedBytes, utf8Boundary, writeEscapedString, writeEscapedUtf8, type EncodedBatch, type LogRecord } from '../src/index.js';

/**
 * Encoders of the hot path: a log line's bytes (as read from a file) written into an output Buffer as a JSON
 * string value, quotes included.
 *
 * - bytes: `writeEscapedUtf8` straight from the file's bytes, between two quote bytes;
 * - string: the simple alternative, `out.write(JSON.stringify(buf.toString('utf8', s, e)), pos)`.
 *
 * Every operation encodes LINES lines, so ns per line = mean (ms) × 10^6 / LINES = mean (ms) × 100.
 */
const LINES = 10_000;
const LINE_BYTES = 137;

type Flavour = 'printable ASCII' | 'with quotes' | 'some non-ASCII' | 'mostly non-ASCII (Japanese)';

const WORDS = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit', 'sed', 'do', 'eiusmod', 'tempor'];

/** One syslog-style line of exactly LINE_BYTES bytes. */
function line(i: number, flavour: Flavour): Buffer {
  const host = `web-${String(1 + (i % 12)).padStart(2, '0')}`;
  let s = `2026-11-21T10:00:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z ${host} nginx[${1000 + (i % 97)}]: `;
  if (flavour === 'with quotes') s += `"GET /api/v1/items?id=${i} HTTP/1.1" 200 ${i % 9000} "-" "curl/8.5.0" `;
  else if (flavour === 'some non-ASCII') s += `req=${String(i).padStart(8, '0')} user=José path=/données/日本語/ü status=200 `;
  else if (flavour === 'mostly non-ASCII (Japanese)') s += `要求${i}を処理できませんでした。再試行します。利用者: 山田太郎 `;
  else s += `req=${String(i).padStart(8, '0')} status=200 bytes=${100 + (i % 900)} `;
  for (let w = i; Buffer.byteLength(s) < LINE_BYTES; w++) s += `${WORDS[w % WORDS.length]!} `;
  const b = Buffer.from(s);
  const cut = b.subarray(0, utf8Boundary(b, 0, LINE_BYTES));
  return Buffer.concat([cut, Buffer.alloc(LINE_BYTES - cut.length, 0x2e)]);
}

/** LINES lines back to back in one buffer, as a file read gives them, with their start offsets. */
function corpus(flavour: Flavour): { src: Buffer; starts: Int32Array } {
  const src = Buffer.concat(Array.from({ length: LINES }, (_, i) => line(i, flavour)));
  const starts = new Int32Array(LINES + 1);
  for (let i = 0; i <= LINES; i++) starts[i] = i * LINE_BYTES;
  return { src, starts };
}

const out = Buffer.allocUnsafe(LINES * (maxEscapedBytes(LINE_BYTES) + 2));

function encodeBytes(src: Buffer, starts: Int32Array): number {
  let pos = 0;
  for (let i = 0; i < LINES; i++) {
    out[pos++] = 0x22;
    pos = writeEscapedUtf8(src, starts[i]!, starts[i + 1]!, out, pos);
    out[pos++] = 0x22;
  }
  return pos;
}

function encodeString(src: Buffer, starts: Int32Array): number {
  let pos = 0;
  for (let i = 0; i < LINES; i++) {
    pos += out.write(JSON.stringify(src.toString('utf8', starts[i], starts[i + 1])), pos);
  }
  return pos;
}

for (const flavour of ['printable ASCII', 'with quotes', 'some non-ASCII', 'mostly non-ASCII (Japanese)'] as const) {
  const { src, starts } = corpus(flavour);
  // Both encoders must produce the same bytes, or the comparison means nothing.
  const byBytes = Buffer.from(out.subarray(0, encodeBytes(src, starts)));
  const byString = out.subarray(0, encodeString(src, starts));
  if (!byBytes.equals(byString)) throw new Error(`encoders disagree on ${flavour} lines`);

  describe(`JSON string value of ${LINES} lines of ${LINE_BYTES} bytes, ${flavour} (ns/line = mean ms × 100)`, () => {
    bench('bytes: writeEscapedUtf8', () => {
      encodeBytes(src, starts);
    });
    bench("string: out.write(JSON.stringify(buf.toString('utf8', s, e)))", () => {
      encodeString(src, starts);
    });
  });
}

const NAMES = Array.from({ length: LINES }, (_, i) => (i % 2 === 0 ? `web-${i % 100}.contoso.example.com` : `/var/log/nginx/access-${i % 100}.log`));

describe(`JSON string value of ${LINES} host names and file paths (ns/name = mean ms × 100)`, () => {
  bench('writeEscapedString', () => {
    let pos = 0;
    for (const s of NAMES) {
      out[pos++] = 0x22;
      pos = writeEscapedString(s, out, pos);
      out[pos++] = 0x22;
    }
  });
  bench('out.write(JSON.stringify(s))', () => {
    let pos = 0;
    for (const s of NAMES) pos += out.write(JSON.stringify(s), pos);
  });
});

/**
 * Whole custom-log records, `{"TimeGenerated","RawData","FilePath","Computer"}`, of LINES lines into one
 * queue entry and back out to a request body's records (ns/record = mean ms × 100):
 *
 * - before (the path up to this benchmark's introduction): a string and an object per line, the batch
 *   `JSON.stringify`d into the queue, parsed back out of it, and each record stringified again for the request;
 * - template: each line escaped from its bytes between a per-file head and tail into an encoded batch, framed
 *   for the queue and read back as a view (what the agent does now);
 * - objects: records that a source hands over as objects, encoded once (`encodeJsonRecords`) and framed.
 */
describe(`custom-log records of ${LINES} lines of ${LINE_BYTES} bytes into a queue entry and out (ns/record = mean ms × 100)`, () => {
  const { src, starts } = corpus('printable ASCII');
  const time = '2026-12-03T10:00:00.000Z';
  const path = '/var/log/nginx/access.log';
  const computer = 'web-01.contoso.example.com';
  const head = Buffer.from(`{"TimeGenerated":"${time}","RawData":"`);
  const tail = Buffer.from(`","FilePath":${JSON.stringify(path)},"Computer":${JSON.stringify(computer)}}`);
  const objects = (): LogRecord[] => {
    const records: LogRecord[] = [];
    for (let i = 0; i < LINES; i++) records.push({ TimeGenerated: time, RawData: src.toString('utf8', starts[i], starts[i + 1]), FilePath: path, Computer: computer });
    return records;
  };
  const template = (): EncodedBatch => {
    const b = new EncodedBatchBuilder('Bench_CL', LINES * 300, LINES);
    for (let i = 0; i < LINES; i++) {
      const s = starts[i]!;
      const e = starts[i + 1]!;
      b.beginRecord();
      b.reserve(head.length + maxEscapedBytes(e - s) + tail.length);
      b.buf.set(head, b.pos);
      const pos = writeEscapedUtf8(src, s, e, b.buf, b.pos + head.length);
      b.buf.set(tail, pos);
      b.pos = pos + tail.length;
      b.endRecord();
    }
    return b.finish();
  };
  // The three must carry the same records.
  const expected = JSON.stringify(objects());
  if (JSON.stringify(decodeJsonRecords(decodeFrame(encodeFrame(1, template())).batch)) !== expected) throw new Error('template records differ');
  if (JSON.stringify(decodeJsonRecords(encodeJsonRecords('Bench_CL', objects()).batch)) !== expected) throw new Error('object records differ');

  bench('before: objects, JSON.stringify into the queue, JSON.parse out, stringify per record', () => {
    const payload = Buffer.from(JSON.stringify({ t: 'Bench_CL', r: objects() }), 'utf8');
    const back = JSON.parse(payload.toString('utf8')) as { r: LogRecord[] };
    let bytes = 0;
    for (const r of back.r) bytes += Buffer.byteLength(JSON.stringify(r));
    if (bytes === 0) throw new Error('nothing encoded');
  });
  bench('template: bytes escaped into an encoded batch, framed, read back as a view', () => {
    const f = decodeFrame(encodeFrame(1, template()));
    if (f.batch.count !== LINES) throw new Error('records lost');
  });
  bench('objects: encodeJsonRecords, framed, read back as a view', () => {
    const f = decodeFrame(encodeFrame(1, encodeJsonRecords('Bench_CL', objects()).batch));
    if (f.batch.count !== LINES) throw new Error('records lost');
  });
});
