import type { BigIntStats } from 'node:fs';
import { readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../telemetry/logger.js';
import { FINGERPRINT_BYTES, identityOf, prefixesAgree, readPrefix } from './file-identity.js';
import { closeQuietly, keyOf, MAX_DIR_ENTRIES, openForRead, type FileSet, type OpenedFile } from './file-set.js';
import type { PathScanner } from './scan.js';
import type { TailedFile } from './tailed-file.js';
import { WINDOWS_FS } from '../../platform/host-os.js';

/** What separates a log's name from a rotation suffix: `app.log.1`, `app.log-20240101`, `app.log_2`. */
const ROTATION_SEPARATORS: readonly string[] = ['.', '-', '_'];
/** Missed generations taken at once when a file is found rotated away. */
const MAX_GENERATIONS = 32;
/** Released files remembered, so that neither they nor copies of them pass for missed generations. */
const MAX_RELEASED = 256;
/** File timestamps come from a coarse kernel clock (one tick behind at most): allowance when comparing them with ours. */
const FS_CLOCK_SLACK_MS = 25;

/** First bytes and size of a file, to tell a copy of it. */
interface ContentSample {
  readonly key: string;
  readonly prefix: Buffer;
  readonly size: number;
}

/** A name the rotation of a log called `base` may have: `base` + separator + suffix. */
function isRotationName(name: string, base: string): boolean {
  const [n, b] = WINDOWS_FS ? [name.toLowerCase(), base.toLowerCase()] : [name, base];
  return n.length > b.length + 1 && n.startsWith(b) && ROTATION_SEPARATORS.includes(n[b.length]!);
}

/**
 * True when a file with these first bytes and size may be a copy of `of`: same first bytes (all
 * `FINGERPRINT_BYTES` of them, or as many as there are while it is no larger than `of`).
 */
function looksLikeCopy(prefix: Buffer, size: number, of: ContentSample): boolean {
  if (!prefixesAgree(prefix, of.prefix)) return false;
  return Math.min(prefix.length, of.prefix.length) >= FINGERPRINT_BYTES || size <= of.size;
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What a rotated file must satisfy to be a generation that no scan saw (see `Generations`). */
interface GenerationBound {
  /** The rotated file it follows: it was written after it. */
  readonly predecessor?: BigIntStats;
  /**
   * Wall-clock ms after which it was created. Checked where the file system has birth times; without a
   * predecessor it is the only evidence, so birth times are then required.
   */
  readonly bornAfterMs?: number;
}

function withinBound(st: BigIntStats, bound: GenerationBound): boolean {
  const born = st.birthtimeNs > 0n;
  const p = bound.predecessor;
  if (p) {
    // Last written before the predecessor was: an older generation, or a copy made before its last
    // write. Within one timestamp tick, it must have been created no earlier than the predecessor last
    // changed (its rename).
    if (st.mtimeNs < p.mtimeNs) return false;
    if (st.mtimeNs === p.mtimeNs && !(born && st.birthtimeNs >= p.ctimeNs)) return false;
  } else if (!born) {
    return false;
  }
  // Created before that time: it existed then, so it is no generation that came after.
  if (bound.bornAfterMs !== undefined && born && Number(st.birthtimeMs) < bound.bornAfterMs - FS_CLOCK_SLACK_MS) return false;
  return true;
}

/**
 * Missed generations: when rotations come faster than the scans (or happen while the source is
 * stopped), a generation can be at the watched path only between two scans and be renamed to a name the
 * patterns do not match before any scan sees it. So when a file that was at a matching path is found
 * rotated away (by a scan, or at start for a file that was at a matching path when the source stopped),
 * the directory of its origin is searched for generations written after it. A file there is one when
 * all of these hold:
 * - its name is the origin's name + `.`, `-` or `_` + a suffix; it is no compressed file, not excluded,
 *   does not match the patterns (those the scan finds itself) and is not tracked;
 * - it is a non-empty regular file last modified after the rotated file was (a generation is written
 *   after its predecessor; older generations and copies made of the file before its last write are
 *   not), or, both last modified within the same timestamp tick, it was created no earlier than the
 *   rotated file last changed (its rename);
 * - where the file system reports birth times: it was created after the rotated file was first seen at
 *   a matching path (every later generation was; anything that existed then, such as the generations
 *   present at a first start with `startAt: end`, did not);
 * - its first bytes are not those of a tracked file of the same origin or of a file released before
 *   (it is not a copy of one, nor a released file again).
 * Such files are read completely, oldest (by modification time, then birth time, then name) first,
 * after the rotated file and before the file now at the path, with the rotated file's FilePath.
 * Likewise, when a file is found at a path no tracked file came from (a new log, or one whose files
 * were all released), files named like its rotations that were created (by birth time, so only where
 * the file system reports it) since the previous scan, or at start since the checkpoint was last saved,
 * were at that path unseen: they are read first, under the same other conditions.
 * Limits: rotations moved to another directory are not followed; a copy of an already read generation
 * made later under a rotation name is recognised only until the source restarts; when a file is
 * copy-truncated twice before it is read again, only the first copy is found (this search follows
 * renames, not truncations).
 */
export class Generations {
  /** Files released lately: not to be taken for missed generations again (nor copies of them). */
  private readonly released: ContentSample[] = [];

  constructor(
    private readonly files: FileSet,
    private readonly paths: PathScanner,
    private readonly log: Logger,
    private readonly requestSave: () => void,
  ) {}

  /** `f` was released: neither it nor a copy of it is a missed generation. */
  remember(f: TailedFile): void {
    if (f.prefix.length === 0) return;
    if (this.released.length >= MAX_RELEASED) this.released.shift();
    this.released.push({ key: f.key, prefix: f.prefix, size: f.readOffset });
  }

  /** Finds the generations written after the rotated file `t` that no scan saw, and queues them after it. */
  async adoptAfter(t: TailedFile, matchedKeys: ReadonlySet<string>): Promise<void> {
    let predecessor: BigIntStats;
    try {
      predecessor = await t.fh.stat({ bigint: true });
    } catch (err) {
      this.log.debug({ err, path: t.path }, 'rotated file not readable; not looking for later generations');
      return;
    }
    const found = await this.findGenerations(t.origin, { predecessor, bornAfterMs: t.seenAtMs }, matchedKeys);
    if (found.length > 0) this.files.place(this.adopt(found, t.origin), { after: t });
  }

  /**
   * Finds the generations of a path that were created after `sinceMs` and rotated away before a scan saw
   * them, the file `n` now at the path being the first one seen; queues them before it.
   */
  async adoptBefore(n: TailedFile, sinceMs: number, matchedKeys: ReadonlySet<string>): Promise<void> {
    const found = await this.findGenerations(n.origin, { bornAfterMs: sinceMs }, matchedKeys);
    if (found.length > 0) this.files.place(this.adopt(found, n.origin), { before: n });
  }

  private adopt(found: ReadonlyArray<OpenedFile & { prefix: Buffer }>, origin: string): TailedFile[] {
    const added: TailedFile[] = [];
    for (const g of found) {
      const f = this.files.add({ ...g, origin, offset: 0, state: 'rotated', unclassified: false, seenAtMs: undefined });
      this.files.index(f);
      added.push(f);
      this.log.info({ path: g.path, origin }, 'rotated generation found; reading it');
    }
    this.requestSave();
    return added;
  }

  /**
   * Untracked files in the directory of `origin` named like its rotations that are generations within
   * `bound`, open, oldest first. `matchedKeys`: identities matching the patterns (the scan finds those).
   */
  private async findGenerations(
    origin: string,
    bound: GenerationBound,
    matchedKeys: ReadonlySet<string>,
  ): Promise<Array<OpenedFile & { prefix: Buffer }>> {
    const dir = dirname(origin);
    const base = basename(origin);
    let names: string[];
    try {
      names = (await readdir(dir)).slice(0, MAX_DIR_ENTRIES);
    } catch (err) {
      this.log.debug({ err, path: dir }, 'directory not readable; not looking for rotated generations');
      return [];
    }
    const candidates: Array<{ path: string; key: string; st: BigIntStats }> = [];
    for (const name of names) {
      if (!isRotationName(name, base)) continue;
      const path = join(dir, name);
      if (this.paths.isCompressed(path) || this.paths.isExcludedByPattern(path)) continue;
      let st: BigIntStats;
      try {
        st = await stat(path, { bigint: true });
      } catch {
        continue; // vanished meanwhile
      }
      if (!st.isFile() || st.size === 0n) continue;
      const key = keyOf(st.dev, st.ino);
      if (matchedKeys.has(key) || this.files.has(key) || !withinBound(st, bound)) continue;
      candidates.push({ path, key, st });
    }
    if (candidates.length === 0) return [];
    candidates.sort(
      (a, b) =>
        compareBig(a.st.mtimeNs, b.st.mtimeNs) || compareBig(a.st.birthtimeNs, b.st.birthtimeNs) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
    );
    const known = [...this.released, ...(await this.samplesOf(origin))];
    const out: Array<OpenedFile & { prefix: Buffer }> = [];
    for (const c of candidates) {
      if (out.length >= MAX_GENERATIONS) {
        this.log.warn({ path: origin, count: candidates.length, max: MAX_GENERATIONS }, 'too many rotated generations; reading the oldest');
        break;
      }
      let fh: FileHandle;
      try {
        fh = await openForRead(c.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.paths.reportPath(c.path, err, 'open');
        continue;
      }
      try {
        const id = await identityOf(fh);
        const key = keyOf(id.dev, id.ino);
        const prefix = await readPrefix(fh);
        const seen = known.find((k) => (k.key === key && prefixesAgree(prefix, k.prefix)) || looksLikeCopy(prefix, id.size, k));
        if (key === c.key && prefix.length > 0 && seen === undefined) {
          out.push({ fh, dev: id.dev, ino: id.ino, path: c.path, prefix });
          continue;
        }
        if (seen) this.log.debug({ path: c.path }, 'rotated file is a file read before or a copy of one; skipping it');
      } catch (err) {
        this.log.debug({ err, path: c.path }, 'generation candidate not readable');
      }
      await closeQuietly(fh, this.log);
    }
    return out;
  }

  /** First bytes and size of the tracked files of an origin, as they are now. */
  private async samplesOf(origin: string): Promise<ContentSample[]> {
    const out: ContentSample[] = [];
    for (const f of this.files.all) {
      if (f.retired || f.origin !== origin) continue;
      try {
        const size = (await f.fh.stat()).size;
        out.push({ key: f.key, prefix: await readPrefix(f.fh), size });
      } catch (err) {
        this.log.debug({ err, path: f.path }, 'file not readable');
      }
    }
    return out;
  }
}
