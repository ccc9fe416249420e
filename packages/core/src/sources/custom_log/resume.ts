import { stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { CheckpointDamage } from '../../checkpoint/checkpoint-store.js';
import { AgentError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import { parseCheckpoint, type FileCheckpoint } from './checkpoint-state.js';
import type { CustomLogConfig } from './config.js';
import { locate, type CopyTruncation } from './copytruncate.js';
import { fingerprintOf, identityOf, readPrefix } from './file-identity.js';
import { closeQuietly, keyOf, openForRead, type FileSet, type OpenedFile, type TrackOptions } from './file-set.js';
import type { Generations } from './generations.js';
import type { Problems } from './problems.js';
import type { Matched, PathScanner } from './scan.js';
import type { TailedFile, TailState } from './tailed-file.js';

/**
 * A damaged checkpoint: the source has run before, so `startAt: end` would skip what was written since
 * (loss). It resumes from the backup when there is one, else reads every file from its beginning.
 */
export function reportDamage(d: CheckpointDamage, problems: Problems, log: Logger): void {
  const err = new AgentError('OMA_ERR_CHECKPOINT_CORRUPT', `checkpoint damaged: ${d.reason}`);
  problems.countError(err, 'checkpoint');
  const fields = { err, reason: d.reason, keptAs: d.keptAs, positions: d.fromBackup ? 'backup' : 'beginning' };
  if (d.fromBackup) log.error(fields, 'checkpoint damaged; resuming from the previous checkpoint, records after it are sent again');
  else log.error(fields, 'checkpoint damaged and no usable backup; reading every file from its beginning');
}

/** What resuming from a checkpoint needs from the source. */
export interface ResumeDeps {
  readonly files: FileSet;
  readonly paths: PathScanner;
  readonly copies: CopyTruncation;
  readonly generations: Generations;
  readonly log: Logger;
  readonly startAt: CustomLogConfig['startAt'];
  /** Opens a path and starts tailing it; undefined when it cannot be opened or is already tailed. */
  track(path: string, opts: TrackOptions): Promise<TailedFile | undefined>;
}

/** Matches the saved positions to the files as they are now, and starts tailing the files found. */
export class CheckpointResume {
  /** Resumed files that were at a matching path at the stop and are rotated away now. */
  private rotatedWhileStopped: TailedFile[] = [];

  constructor(private readonly deps: ResumeDeps) {}

  /** `scanWallMs`: wall-clock ms when this start's scan began. */
  async run(state: Record<string, unknown>, damaged: boolean, scanWallMs: number): Promise<void> {
    const { files, paths, generations } = this.deps;
    const saved = parseCheckpoint(state);
    const found = await paths.matchedFiles();
    const foundByKey = new Map(found.map((m) => [m.key, m]));
    const claimed = new Set<string>();
    files.numberFrom(saved.files.length);
    for (let i = 0; i < saved.files.length; i++) {
      const e = saved.files[i]!;
      const key = keyOf(e.dev, e.ino);
      if (claimed.has(key)) continue; // taken over as the copy of an earlier file
      const m = foundByKey.get(key);
      if (m && (await this.resume(e, m.path, i, 'active', claimed))) continue;
      // Rotated out of the patterns before the stop: at its last path, or renamed within its directory.
      const elsewhere = (await sameFileAt(e.path, key)) ?? (await locate(dirname(e.path), e.dev, e.ino));
      if (elsewhere && !m && (await this.resume(e, elsewhere, i, 'rotated', claimed))) continue;
      // Truncated while stopped (copytruncate): its content up to the offset lives on in a copy, and what
      // the file holds now was written to the same path after the copy: it is read next, from its start.
      if (!e.fresh && (await this.resumeFromCopy(e, i, found, claimed))) {
        const now = m?.path ?? elsewhere;
        if (now !== undefined && !claimed.has(key)) {
          const f = await this.deps.track(now, { offset: 0, unclassified: false, origin: e.origin, seenAtMs: e.seenAtMs, seq: i + 0.5 });
          if (f) claimed.add(f.key);
        }
        continue;
      }
      this.deps.log.info({ path: e.path, offset: e.offset }, 'checkpointed file is gone or replaced; dropping its position');
    }
    // After damage the source has run before: what was written since must not be skipped.
    const fromEnd = !saved.known && !damaged && this.deps.startAt === 'end';
    const resumedOrigins = new Set(files.all.map((f) => f.origin));
    const newOrigins: TailedFile[] = [];
    for (const m of found) {
      if (claimed.has(m.key)) continue;
      const f = await this.deps.track(m.path, { offset: fromEnd ? 'end' : 0, unclassified: saved.known, origin: m.path, seenAtMs: scanWallMs });
      if (f && !resumedOrigins.has(f.origin)) newOrigins.push(f);
    }
    files.reorder();
    // Generations rotated away while stopped: behind a file that was at a matching path then, or before
    // a file at a path no file was tracked from (created since the last save). Looked for once every
    // file is placed, so that none is taken that a checkpoint entry or a pattern claims.
    const rotated = this.rotatedWhileStopped;
    this.rotatedWhileStopped = [];
    const matchedKeys = new Set(found.map((m) => m.key));
    for (const t of rotated) if (!t.retired) await generations.adoptAfter(t, matchedKeys);
    if (saved.savedAtMs !== undefined) {
      for (const n of newOrigins) {
        if (!n.retired && n.state === 'active') await generations.adoptBefore(n, saved.savedAtMs, matchedKeys);
      }
    }
  }

  private async resume(e: FileCheckpoint, path: string, seq: number, state: TailState, claimed: Set<string>): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await openForRead(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.deps.paths.reportPath(path, err, 'open');
      return false;
    }
    try {
      const id = await identityOf(fh);
      const key = keyOf(id.dev, id.ino);
      const head = key === keyOf(e.dev, e.ino) && !claimed.has(key) ? await matchesCheckpoint(fh, e) : undefined;
      if (head === undefined) {
        this.deps.log.info({ path }, 'file differs from its checkpoint (inode reused or content replaced); not resuming it');
        await closeQuietly(fh, this.deps.log);
        return false;
      }
      const f = this.resumeOn({ fh, dev: id.dev, ino: id.ino, path }, e, head, seq, state, claimed);
      if (f.unclassified) await this.deps.copies.classify(f);
      return true;
    } catch (err) {
      this.deps.paths.reportPath(path, err, 'open');
      await closeQuietly(fh, this.deps.log);
      return false;
    }
  }

  private async resumeFromCopy(e: FileCheckpoint, seq: number, found: readonly Matched[], claimed: Set<string>): Promise<boolean> {
    if (e.fpLen === 0) return false;
    const accept = async (fh: FileHandle, size: number): Promise<boolean> =>
      size >= e.offset && (await matchesCheckpoint(fh, e)) !== undefined;
    // Matched files are not tracked yet at this point: skip the claimed ones explicitly.
    const dir = dirname(e.path);
    for (const m of found) {
      if (claimed.has(m.key) || dirname(m.path) !== dir || m.size < e.offset) continue;
      let fh: FileHandle | undefined;
      try {
        fh = await openForRead(m.path);
        const id = await identityOf(fh);
        if (keyOf(id.dev, id.ino) === m.key && (await accept(fh, id.size))) {
          this.resumeOn({ fh, dev: id.dev, ino: id.ino, path: m.path }, e, await readPrefix(fh), seq, 'active', claimed);
          return true;
        }
      } catch (err) {
        this.deps.log.debug({ err, path: m.path }, 'copy candidate not readable');
      }
      if (fh) await closeQuietly(fh, this.deps.log);
    }
    const matchedKeys = new Set(found.map((m) => m.key));
    const copy = await this.deps.copies.findInDirectory(dir, basename(e.origin), async (fh, size) => {
      const id = await identityOf(fh);
      return !matchedKeys.has(keyOf(id.dev, id.ino)) && (await accept(fh, size));
    });
    if (!copy) return false;
    try {
      this.resumeOn(copy, e, await readPrefix(copy.fh), seq, 'rotated', claimed);
      return true;
    } catch (err) {
      this.deps.paths.reportPath(copy.path, err, 'open');
      await closeQuietly(copy.fh, this.deps.log);
      return false;
    }
  }

  private resumeOn(file: OpenedFile, e: FileCheckpoint, prefix: Buffer, seq: number, state: TailState, claimed: Set<string>): TailedFile {
    const unclassified = e.fresh === true && e.offset === 0;
    const f = this.deps.files.add({ ...file, origin: e.origin, prefix, offset: e.offset, state, unclassified, seenAtMs: e.seenAtMs, seq });
    this.deps.files.index(f);
    claimed.add(f.key);
    if (state === 'rotated' && e.rotated !== true) this.rotatedWhileStopped.push(f);
    this.deps.log.info({ path: file.path, offset: e.offset }, 'resuming file');
    return f;
  }
}

async function sameFileAt(path: string, key: string): Promise<string | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return st.isFile() && keyOf(st.dev, st.ino) === key ? path : undefined;
  } catch {
    return undefined;
  }
}

/** True when `fh` starts with the bytes the checkpoint fingerprinted and holds at least its offset. */
async function matchesCheckpoint(fh: FileHandle, e: FileCheckpoint): Promise<Buffer | undefined> {
  const id = await identityOf(fh);
  if (id.size < e.offset) return undefined;
  const head = await readPrefix(fh);
  if (head.length < e.fpLen || fingerprintOf(head.subarray(0, e.fpLen)) !== e.fp) return undefined;
  return head;
}
