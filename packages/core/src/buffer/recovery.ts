import { chmod, mkdir, open, readdir, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DIR_MODE, errnoCode } from './fs-util.js';
import { MAX_LEDGER_LOST_RANGES, readLedger, type LedgerState, type SeqRange } from './ledger.js';
import { convertLegacySegments } from './legacy-segments.js';
import type { QueueState } from './queue-state.js';
import { parseSegmentFileName } from './record-format.js';
import { scanSegment } from './segment-scan.js';
import { Segment } from './segment.js';
import { mergeRanges, uncovered } from './seq-ranges.js';
import type { RecoveryReport } from './types.js';

/**
 * Opening the durable queue: reads the ledger, converts legacy segments, scans every segment file
 * (truncating a bad tail, moving an unreadable file aside, deleting acknowledged ones), accounts for
 * every seq that was promised and is gone, and sets the queue's positions and counters in `s`.
 * Returns the recovery report (the losses are logged and reported as drops here).
 */
export async function recoverQueue(s: QueueState): Promise<RecoveryReport> {
  await mkdir(s.dir, { recursive: true, mode: DIR_MODE });
  // Queued telemetry is as private as the logs it came from, whatever the umask made of the directory.
  await chmod(s.dir, DIR_MODE).catch(() => undefined);
  const ledgerRead = await readLedger(s.dir);
  let ledger: LedgerState | undefined;
  if (ledgerRead.kind === 'ok') ledger = ledgerRead.state;
  else if (ledgerRead.kind === 'corrupt') {
    s.log.warn({ reason: ledgerRead.reason }, 'durable queue ledger unreadable, replaying every stored record');
  }
  const converted = await convertLegacySegments({
    dir: s.dir,
    ackedThrough: ledger?.ackedThrough ?? 0,
    log: s.log,
    ...(s.opts.recordsOfLegacyPayload ? { recordsOf: s.opts.recordsOfLegacyPayload } : {}),
  });
  const files = (await readdir(s.dir))
    .map((name) => ({ name, firstSeq: parseSegmentFileName(name) }))
    .filter((f): f is { name: string; firstSeq: number } => f.firstSeq !== undefined)
    .sort((a, b) => a.firstSeq - b.firstSeq);
  // Segments are deleted oldest first, and only once acknowledged (or dropped by a policy, which was
  // counted then): without a ledger, everything before the first segment was acknowledged, not lost.
  const acked = ledger?.ackedThrough ?? Math.max(0, (files[0]?.firstSeq ?? 1) - 1);
  const stored = ledger?.storedThrough ?? 0;
  const known: SeqRange[] = (ledger?.lost ?? []).filter((r) => r[1] > acked);
  let maxSeen = Math.max(acked, stored, (ledger?.nextSeq ?? 1) - 1);

  /** Seq ranges reported lost: by an earlier run (from the ledger) or by this recovery. */
  let counted: SeqRange[] = mergeRanges(known);
  /** Entries lost (their record counts are unreadable: estimated below). */
  let lostCount = 0;
  /** Counts the seqs of [lo, hi] above the acked mark that were not reported before, and remembers them. */
  const lose = (lo: number, hi: number): void => {
    const fresh = uncovered(Math.max(lo, acked + 1), hi, counted);
    for (const [a, b] of fresh) lostCount += b - a + 1;
    if (fresh.length > 0) counted = mergeRanges([...counted, ...fresh]);
  };

  let badSegments = 0;
  // Every seq in (acked, stored] must be in a segment or known to be missing; anything else was lost.
  /** Every seq up to here is present, acknowledged or already accounted for. */
  let prevEnd = acked;
  /** The newest file read so far ends in bytes that are not a valid record. */
  let tailBad = false;
  /** The seq the newest file's next record would have had. */
  let tailFrom = acked + 1;
  for (let k = 0; k < files.length; k++) {
    const f = files[k]!;
    const next = files[k + 1];
    const path = join(s.dir, f.name);
    const maxSeq = next ? next.firstSeq - 1 : Number.MAX_SAFE_INTEGER;
    maxSeen = Math.max(maxSeen, f.firstSeq);
    if (next && maxSeq <= acked) {
      // Every record it can hold is acknowledged: no need to read it.
      await s.removeFile(path);
      continue;
    }
    // Records between the previous file's last one and this file's first one are gone.
    lose(prevEnd + 1, f.firstSeq - 1);
    const scanned = await scanFile(s, path, f.firstSeq, maxSeq, acked);
    if (!scanned) {
      badSegments++;
      await quarantine(s, path, f.name);
      prevEnd = Math.max(prevEnd, f.firstSeq - 1);
      tailBad = true;
      tailFrom = f.firstSeq;
      continue;
    }
    const { scan, seg } = scanned;
    // Gaps already accounted for (withdrawn or failed appends, earlier losses) are no damage.
    if (scan.tailBad || scan.lostInside.some(([a, b]) => uncovered(Math.max(a, acked + 1), b, counted).length > 0)) badSegments++;
    for (const [a, b] of scan.lostInside) lose(a, b);
    prevEnd = Math.max(prevEnd, scan.lastSeq);
    tailBad = scan.tailBad;
    tailFrom = scan.lastSeq + 1;
    maxSeen = Math.max(maxSeen, scan.lastSeq);
    if (seg.index.count === 0) {
      await s.removeFile(path);
      continue;
    }
    s.segments.push(seg);
    s.diskBytes += seg.size;
    s.unacked += seg.index.liveCount();
    s.unackedRecords += seg.index.liveRecords();
  }
  // The newest records up to `stored` were promised to be kept. A bad tail counts at least one
  // record even when the ledger is older than the data.
  lose(prevEnd + 1, stored);
  if (tailBad) lose(tailFrom, tailFrom);
  // Seqs past the last stored record were never promised: account for them without counting.
  const skipFrom = Math.max(prevEnd, acked) + 1;
  if (skipFrom <= maxSeen) counted = mergeRanges([...counted, [skipFrom, maxSeen]]);

  s.nextSeq = maxSeen + 1;
  s.ackedThrough = acked;
  s.readSeq = acked + 1;
  s.storedThrough = Math.max(acked, prevEnd);
  s.lostRanges = counted.slice(-MAX_LEDGER_LOST_RANGES);
  s.retention.ledgerOnDisk = ledger;
  s.advanceMark();

  // A lost entry's own count is gone with it: estimate it from the entries that could be read.
  let readEntries = 0;
  let readRecords = 0;
  for (const seg of s.segments) {
    const c = seg.index.indexedRecords();
    readEntries += c.entries;
    readRecords += c.records;
  }
  const perEntry = readEntries > 0 ? readRecords / readEntries : 1;
  const lostRecords = Math.round(lostCount * perEntry);
  const report: RecoveryReport = {
    replayed: s.unackedRecords,
    corrupt: lostRecords,
    corruptEntries: lostCount,
    corruptEstimated: lostCount > 0,
    badSegments,
    converted,
  };
  if (lostCount > 0) {
    s.log.error(
      { count: lostRecords, entries: lostCount, estimated: true, badSegments, dir: s.dir },
      'durable queue records lost to corruption',
    );
    if (lostRecords > 0) s.reportDrop(lostRecords, 'corrupt');
  } else if (badSegments > 0) {
    s.log.warn({ badSegments, dir: s.dir }, 'durable queue segments hold damaged records already counted as lost');
  }
  s.log.info(
    { count: s.unackedRecords, entries: s.unacked, bytes: s.diskBytes, segments: s.segments.length },
    'durable queue opened',
  );
  return report;
}

/** Scans one segment file; undefined when it cannot be read at all. Truncates a bad tail. */
async function scanFile(
  s: QueueState,
  path: string,
  firstSeq: number,
  maxSeq: number,
  acked: number,
): Promise<{ scan: Awaited<ReturnType<typeof scanSegment>>; seg: Segment } | undefined> {
  let fh: FileHandle | undefined;
  try {
    let writable = true;
    try {
      fh = await open(path, 'r+');
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw err;
      // Still readable: replay it, without cutting a bad tail.
      fh = await open(path, 'r');
      writable = false;
    }
    const { size } = await fh.stat();
    const scan = await scanSegment(fh, size, firstSeq, maxSeq, acked);
    let fileSize = size;
    if (scan.tailBad && writable) {
      try {
        await fh.truncate(scan.validEnd);
        fileSize = scan.validEnd;
      } catch (err) {
        s.log.warn({ err }, 'durable queue could not truncate a damaged segment tail');
      }
    }
    const seg = new Segment(firstSeq, path, scan.index);
    seg.size = fileSize;
    return { scan, seg };
  } catch (err) {
    s.log.error({ err }, 'durable queue segment unreadable');
    return undefined;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Moves an unreadable segment aside so that it is neither read nor counted again. */
async function quarantine(s: QueueState, path: string, name: string): Promise<void> {
  try {
    await rename(path, join(s.dir, `${name}.bad`));
  } catch (err) {
    s.log.warn({ err }, 'durable queue could not move an unreadable segment aside');
  }
}
