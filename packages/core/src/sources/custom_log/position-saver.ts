import type { CheckpointStore } from '../../checkpoint/checkpoint-store.js';
import { serializeCheckpoint, type FileCheckpoint } from './checkpoint-state.js';
import type { FileSet } from './file-set.js';
import type { Problems } from './problems.js';

/** Saves the tailed files' positions to the checkpoint store: coalesced, one save at a time. */
export class PositionSaver {
  /** Set once the saved positions were matched to files: only then may positions be saved. */
  private ready = false;
  private saveChain: Promise<void> = Promise.resolve();
  /** True while `request`'s saves run. */
  private saving = false;
  /** The one of them under way. */
  private currentSave: Promise<void> | undefined;
  /** Positions changed while a save was under way: one more save follows it. */
  private saveAgain = false;
  /** Set at stop, before the last save: no save may follow it. */
  private savesClosed = false;

  constructor(
    private readonly store: CheckpointStore,
    private readonly files: FileSet,
    private readonly problems: Pick<Problems, 'countError' | 'warn'>,
  ) {}

  /** The saved positions were matched to files: saves asked for from now on are made. */
  open(): void {
    this.ready = true;
  }

  /**
   * Saves the positions soon, off the emit path: one save under way at most and one more after it that
   * takes the positions as they are then (so changes made meanwhile are coalesced into it).
   */
  request(): void {
    if (this.savesClosed || !this.ready) return;
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    this.saving = true;
    void this.saveLoop();
  }

  /**
   * Before a batch is emitted: waits while the positions of two emitted batches are unsaved (a save
   * under way and one more asked for), so that a crash sends again at most the batch whose positions
   * are being saved and the one being emitted. Saves are quicker than emits as a rule: this rarely waits.
   */
  async caughtUp(): Promise<void> {
    while (this.saveAgain && this.currentSave) await this.currentSave;
  }

  /** Saves the positions now (after the saves already under way); never rejects. */
  saveNow(): Promise<void> {
    const state = this.snapshot();
    const next = this.saveChain.then(
      () => this.store.save(state),
    ).catch((err: unknown) => {
      this.problems.countError(err, 'checkpoint');
      this.problems.warn('checkpoint', { err }, 'positions not saved');
    });
    this.saveChain = next;
    return next;
  }

  /** At stop: no save follows; the positions are saved a last time if they were matched to files. */
  async close(): Promise<void> {
    this.savesClosed = true;
    if (this.ready) await this.saveNow();
  }

  private async saveLoop(): Promise<void> {
    try {
      do {
        this.saveAgain = false;
        this.currentSave = this.saveNow();
        await this.currentSave;
      } while (this.saveAgain && !this.savesClosed);
    } finally {
      this.saving = false;
      this.currentSave = undefined;
    }
  }

  private snapshot(): Record<string, unknown> {
    const entries: FileCheckpoint[] = [];
    for (const f of this.files.all) {
      if (f.retired) continue;
      const entry: FileCheckpoint = {
        path: f.path,
        origin: f.origin,
        dev: f.dev,
        ino: f.ino,
        fpLen: f.prefix.length,
        fp: f.fingerprint(),
        offset: f.committed,
      };
      // Not compared with the other files yet (or a possible copy): compared again after a restart.
      if (f.unclassified || f.state === 'suspect') entry.fresh = true;
      if (f.state === 'rotated') entry.rotated = true;
      if (f.seenAtMs !== undefined) entry.seenAtMs = f.seenAtMs;
      entries.push(entry);
    }
    return serializeCheckpoint(entries, Date.now());
  }
}
