import { readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Clock } from '../../ports/clock.js';
import type { Logger } from '../../telemetry/logger.js';
import { FINGERPRINT_BYTES, identityOf, prefixesAgree, readPrefix, startsWith } from './file-identity.js';
import { closeQuietly, keyOf, MAX_DIR_ENTRIES, openForRead, type FileSet, type OpenedFile } from './file-set.js';
import type { Problems } from './problems.js';
import type { PathScanner } from './scan.js';
import type { TailedFile } from './tailed-file.js';

/** Candidate files whose first bytes are compared when looking for a copy. */
const MAX_COPY_CANDIDATES = 32;

/** Where a file with this identity is now in `dir`, if anywhere. */
export async function locate(dir: string, dev: string, ino: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).slice(0, MAX_DIR_ENTRIES);
  } catch {
    return undefined;
  }
  const want = keyOf(dev, ino);
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = await stat(path, { bigint: true });
      if (st.isFile() && keyOf(st.dev, st.ino) === want) return path;
    } catch {
      // vanished meanwhile
    }
  }
  return undefined;
}

/** What the copytruncate handling needs from the source. */
export interface CopyTruncationDeps {
  readonly files: FileSet;
  readonly paths: PathScanner;
  readonly problems: Problems;
  readonly log: Logger;
  readonly clock: Clock;
  readonly rotateWaitMs: number;
  /** Hands over what a file's splitter holds (the file is about to be left). */
  flush(f: TailedFile): void;
  requestSave(): void;
}

/**
 * copytruncate: the truncated file's unread tail is read from the copy (a file in the same directory
 * with the same first bytes and at least our position), then the file is read again from 0. Lines the
 * writer adds between the copy and the truncation exist in neither file and are lost; that is inherent
 * to copytruncate.
 * A new file whose first bytes equal those of a tailed file (a copy being made) is not read until that
 * file's truncation claims it, it outgrows that file, or it has not grown for `rotateWaitMs`.
 */
export class CopyTruncation {
  private readonly prefixScratch = Buffer.allocUnsafe(FINGERPRINT_BYTES);

  constructor(private readonly deps: CopyTruncationDeps) {}

  /**
   * Compares a file first seen after start with the older tailed files: one with the same first bytes
   * may be a copy in the making (copytruncate) and becomes a suspect. True when it did.
   */
  async classify(f: TailedFile): Promise<boolean> {
    if (f.prefix.length === 0) return false;
    f.unclassified = false;
    for (const g of this.deps.files.all) {
      if (g === f || g.retired || g.state === 'suspect' || g.seq >= f.seq) continue;
      if (g.prefix.length < FINGERPRINT_BYTES && g.readOffset === 0) {
        // Not read yet: its first bytes may have grown since it was opened.
        try {
          const head = await readPrefix(g.fh, this.prefixScratch);
          if (head.length > g.prefix.length && startsWith(head, g.prefix)) g.prefix = Buffer.from(head);
        } catch (err) {
          this.deps.log.debug({ err, path: g.path }, 'prefix not readable');
        }
      }
      if (!prefixesAgree(f.prefix, g.prefix)) continue;
      f.state = 'suspect';
      f.copyOf = g;
      f.lastGrowthAt = this.deps.clock.now();
      this.deps.log.info({ path: f.path, original: g.path }, 'new file starts like a tailed file; waiting to see whether it is its copy');
      return true;
    }
    return false;
  }

  async checkSuspect(f: TailedFile): Promise<void> {
    const now = this.deps.clock.now();
    let size: number;
    let head: Buffer;
    try {
      size = (await f.fh.stat()).size;
      head = await readPrefix(f.fh, this.prefixScratch);
    } catch (err) {
      this.deps.problems.fileFailed(f, err, 'read');
      return;
    }
    if (size !== f.suspectSize) {
      f.suspectSize = size;
      f.lastGrowthAt = now;
    }
    const g = f.copyOf;
    let stillLikeIt = g !== undefined && !g.retired && g.state !== 'suspect' && prefixesAgree(head, g.prefix);
    if (stillLikeIt) {
      // A copy never outgrows its original: one that does is a file of its own.
      try {
        if (size > (await g!.fh.stat()).size && size > g!.readOffset) stillLikeIt = false;
      } catch (err) {
        this.deps.log.debug({ err, path: g!.path }, 'original not readable');
      }
    }
    // Settled by waiting only once the original has been looked at since (a truncation would show).
    if (stillLikeIt && (now - f.lastGrowthAt < this.deps.rotateWaitMs || !g!.atEof)) return;
    if (stillLikeIt) {
      this.deps.log.info({ path: f.path }, 'file starts like another tailed file but is no copy of a truncated one; reading it');
    }
    f.state = 'active';
    f.copyOf = undefined;
    f.prefix = Buffer.alloc(0);
    f.lastGrowthAt = now;
    this.deps.requestSave();
  }

  async handleTruncation(t: TailedFile): Promise<void> {
    const { files, log } = this.deps;
    const at = t.readOffset;
    const copy = await this.findCopy(t, at);
    const fresh = files.add({
      path: t.path,
      origin: t.origin,
      fh: t.fh,
      dev: t.dev,
      ino: t.ino,
      prefix: Buffer.alloc(0),
      offset: 0,
      state: 'active',
      unclassified: false,
      // Its content was written after the truncation, so after `t` was first seen.
      seenAtMs: t.seenAtMs,
    });
    if (copy) {
      // The old stream continues in the copy, at the same offset and with the same splitter state.
      files.unindex(t);
      t.fh = copy.fh;
      t.dev = copy.dev;
      t.ino = copy.ino;
      t.path = copy.path;
      t.state = 'rotated';
      t.goneAt = this.deps.clock.now();
      t.atEof = false;
      files.index(t);
      log.info({ path: fresh.path, copy: copy.path, offset: at }, 'file truncated; reading the rest from its copy');
    } else {
      this.deps.problems.countError({ code: 'file_truncated' }, 'read');
      this.deps.problems.warn(`truncated:${t.path}`, { path: t.path, offset: at }, 'file truncated and no copy found; reading it again from the start');
      this.deps.flush(t);
      files.retire(t);
    }
    files.index(fresh);
    this.deps.requestSave();
  }

  /**
   * Looks through a directory (names starting like `hint` first) for an untracked regular file that
   * `accept` takes; returns it open.
   */
  async findInDirectory(
    dir: string,
    hint: string,
    accept: (fh: FileHandle, size: number) => Promise<boolean>,
  ): Promise<OpenedFile | undefined> {
    let names: string[];
    try {
      names = (await readdir(dir)).slice(0, MAX_DIR_ENTRIES);
    } catch {
      return undefined;
    }
    names.sort((a, b) => Number(b.startsWith(hint)) - Number(a.startsWith(hint)) || a.localeCompare(b));
    let candidates = 0;
    for (const name of names) {
      if (candidates >= MAX_COPY_CANDIDATES) break;
      const path = join(dir, name);
      if (this.deps.paths.isCompressed(path)) continue;
      let key: string;
      let size: number;
      try {
        const st = await stat(path, { bigint: true });
        if (!st.isFile()) continue;
        key = keyOf(st.dev, st.ino);
        size = Number(st.size);
      } catch {
        continue;
      }
      if (this.deps.files.has(key)) continue;
      candidates++;
      let fh: FileHandle;
      try {
        fh = await openForRead(path);
      } catch {
        continue;
      }
      try {
        const id = await identityOf(fh);
        if (keyOf(id.dev, id.ino) === key && (await accept(fh, size))) return { fh, dev: id.dev, ino: id.ino, path };
      } catch (err) {
        this.deps.log.debug({ err, path }, 'copy candidate not readable');
      }
      await closeQuietly(fh, this.deps.log);
    }
    return undefined;
  }

  /** A file holding the content `t` had before it was truncated, opened, or undefined. */
  private async findCopy(t: TailedFile, minSize: number): Promise<OpenedFile | undefined> {
    if (t.prefix.length === 0) return undefined;
    // A copy may already be tracked: as a suspect, or found by a scan but not read yet.
    for (const s of this.deps.files.all) {
      const candidate = (s.state === 'suspect' && s.copyOf === t) || (s.unclassified && s.readOffset === 0);
      if (!candidate || s === t || s.retired) continue;
      try {
        const size = (await s.fh.stat()).size;
        const head = await readPrefix(s.fh, this.prefixScratch);
        if (size >= minSize && startsWith(head, t.prefix)) {
          this.deps.files.retire(s);
          return { fh: s.fh, dev: s.dev, ino: s.ino, path: s.path };
        }
      } catch (err) {
        this.deps.log.debug({ err, path: s.path }, 'copy candidate not readable');
      }
    }
    return this.findInDirectory(dirname(t.path), basename(t.origin), async (fh, size) => {
      if (size < minSize) return false;
      return startsWith(await readPrefix(fh, this.prefixScratch), t.prefix);
    });
  }
}
