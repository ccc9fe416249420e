import { createGzip } from 'node:zlib';
import type { LogRecord } from '../../model/record.js';
import type { BufferPool } from '../../wire/buffer-pool.js';
import { jsonArrayParts, type EncodedBatch } from '../../wire/encoded-batch.js';
import { encodeJsonRecords, parseJsonRecord } from '../../wire/format.js';

const GZIP_CHUNK_BYTES = 256 * 1024;

/**
 * The request body: the pieces' records as one JSON array, gzip-compressed at `level` unless
 * `compression` is `none`. Compression streams the pieces through one deflate stream on the thread
 * pool (off the main thread); the records are never copied into one uncompressed buffer.
 */
export function buildBody(pieces: readonly EncodedBatch[], compression: 'gzip' | 'none', level = 1, pool?: BufferPool): Promise<Buffer> {
  const parts = jsonArrayParts(pieces);
  if (compression === 'none') return Promise.resolve(Buffer.concat(parts));
  return new Promise<Buffer>((resolve, reject) => {
    // Large output chunks: each is a round trip between the thread pool and the main thread.
    const z = createGzip({ level, chunkSize: GZIP_CHUNK_BYTES });
    const out: Buffer[] = [];
    let bytes = 0;
    z.on('data', (c: Buffer) => {
      out.push(c);
      bytes += c.length;
    });
    z.on('end', () => {
      // Into reused memory when the caller gives it back once the request is done.
      const body = pool ? pool.take(bytes) : Buffer.allocUnsafe(bytes);
      let p = 0;
      for (const c of out) {
        body.set(c, p);
        p += c.length;
      }
      resolve(body);
    });
    z.on('error', reject);
    for (const part of parts) z.write(part);
    z.end();
  });
}

/**
 * A single record the service found too large, with its string fields cut to 64 KB (what the service
 * keeps of a field), or undefined when that changes nothing.
 */
export function shrinkRecord(record: EncodedBatch): EncodedBatch | undefined {
  let parsed: LogRecord;
  try {
    parsed = parseJsonRecord(record.data.toString('utf8'));
  } catch {
    return undefined;
  }
  const out = encodeJsonRecords(record.table, [parsed]);
  return out.truncated > 0 && out.batch.count === 1 ? out.batch : undefined;
}
