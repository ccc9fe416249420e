import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../telemetry/logger.js';
import { FILE_MODE, readFully, syncDir, writeFully } from './fs-util.js';
import {
  MAX_RECORD_COUNT,
  V1_RECORD_LAYOUT,
  encodeRecordHeader,
  parseV1SegmentFileName,
  segmentFileName,
} from './record-format.js';
import { RECORD_LIVE } from './record-index.js';
import { scanSegment } from './segment-scan.js';

export interface ConvertOptions {
  readonly dir: string;
  /** Records up to this seq are acknowledged: not carried over. */
  readonly ackedThrough: number;
  readonly log: Logger;
  /** Telemetry records in a payload (default 1). */
  readonly recordsOf?: (payload: Buffer) => number;
}

/**
 * Converts the segment files of the first record layout (`<firstSeq>.seg`, no record count in the
 * header) into the current one, so that an upgrade keeps what an older agent queued. Each file's valid,
 * unacknowledged records are rewritten with their count into `<first live seq>.v2.seg` (written to a
 * temporary name, fsynced, renamed), then the old file is deleted. Damaged parts are not carried over:
 * recovery then finds their seqs missing and counts them as it always does. A file that cannot be
 * converted is left in place and logged (it is never read by this version, nor deleted). Returns the
 * number of files converted.
 */
export async function convertLegacySegments(opts: ConvertOptions): Promise<number> {
  const files = (await readdir(opts.dir))
    .map((name) => ({ name, firstSeq: parseV1SegmentFileName(name) }))
    .filter((f): f is { name: string; firstSeq: number } => f.firstSeq !== undefined)
    .sort((a, b) => a.firstSeq - b.firstSeq);
  let converted = 0;
  for (let k = 0; k < files.length; k++) {
    const f = files[k]!;
    const maxSeq = (files[k + 1]?.firstSeq ?? Number.MAX_SAFE_INTEGER + 1) - 1;
    const path = join(opts.dir, f.name);
    try {
      await convertOne(path, f.firstSeq, maxSeq, opts);
      converted++;
    } catch (err) {
      opts.log.error({ err, path }, 'durable queue segment of an older version could not be converted; left in place');
    }
  }
  if (converted > 0) opts.log.info({ count: converted }, 'durable queue segments of an older version converted');
  return converted;
}

async function convertOne(path: string, firstSeq: number, maxSeq: number, opts: ConvertOptions): Promise<void> {
  const layout = V1_RECORD_LAYOUT;
  let src: FileHandle | undefined;
  let out: FileHandle | undefined;
  let tmp: string | undefined;
  try {
    src = await open(path, 'r');
    const { size } = await src.stat();
    const scan = await scanSegment(src, size, firstSeq, maxSeq, opts.ackedThrough, layout);
    const { index } = scan;
    let at = 0;
    for (let i = 0; i < index.count; i++) {
      if (index.state(i) !== RECORD_LIVE) continue;
      const seq = firstSeq + i;
      if (!out) {
        tmp = join(opts.dir, `${segmentFileName(seq)}.tmp`);
        out = await open(tmp, 'w', FILE_MODE);
      }
      const payload = Buffer.allocUnsafe(index.payloadLen(i));
      await readFully(src, payload, 0, payload.length, index.offset(i) + layout.headerBytes);
      const records = Math.min(MAX_RECORD_COUNT, Math.max(0, Math.floor(countOf(payload, opts.recordsOf))));
      const header = encodeRecordHeader(seq, index.appendedAt(i), records, payload);
      await writeFully(out, [header, payload], at, header.length + payload.length);
      at += header.length + payload.length;
    }
    if (out && tmp) {
      await out.sync();
      await out.close();
      out = undefined;
      await rename(tmp, tmp.slice(0, -'.tmp'.length));
    }
    await src.close();
    src = undefined;
    await unlink(path);
    await syncDir(opts.dir);
  } finally {
    await out?.close().catch(() => undefined);
    await src?.close().catch(() => undefined);
    // Failed half way: the partial copy goes; the old file stays.
    if (out && tmp) await unlink(tmp).catch(() => undefined);
  }
}

function countOf(payload: Buffer, recordsOf: ((p: Buffer) => number) | undefined): number {
  if (!recordsOf) return 1;
  try {
    const n = recordsOf(payload);
    return Number.isFinite(n) ? n : 1;
  } catch {
    return 1;
  }
}
