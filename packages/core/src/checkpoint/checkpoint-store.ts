import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Says why a loaded state cannot be used (undefined: it can). */
export type CheckpointValidator = (state: Record<string, unknown>) => string | undefined;

/** The checkpoint file was there but could not be used. */
export interface CheckpointDamage {
  /** What was wrong with it (not JSON, not an object, unreadable, or what `validate` said). */
  readonly reason: string;
  /** Where the damaged file was kept aside; undefined when it could not be moved. */
  readonly keptAs?: string;
  /** True when the state returned is the backup (the state of the save before the last one). */
  readonly fromBackup: boolean;
}

export interface CheckpointLoad {
  /** The saved state; empty when there is none (or no usable one). */
  readonly state: Record<string, unknown>;
  /** Set when the checkpoint was damaged. */
  readonly damage?: CheckpointDamage;
}

/** Durable key/value positions of one source (a JSON file written atomically). */
export interface CheckpointStore {
  /**
   * Loads the saved state. A checkpoint that cannot be read, is not a JSON object, or that `validate`
   * refuses is damage: it is kept aside and the backup (the state saved before it) is used if it is usable.
   */
  load(validate?: CheckpointValidator): Promise<CheckpointLoad>;
  /** Replaces the whole state; durable (fsync + rename) when it resolves. */
  save(state: Record<string, unknown>): Promise<void>;
}

type ReadResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ok'; readonly state: Record<string, unknown> }
  | { readonly kind: 'damaged'; readonly reason: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function check(state: unknown, validate: CheckpointValidator | undefined): ReadResult {
  if (!isObject(state)) return { kind: 'damaged', reason: 'not a JSON object' };
  const why = validate?.(state);
  return why === undefined ? { kind: 'ok', state } : { kind: 'damaged', reason: why };
}

/**
 * The checkpoint of one source: `checkpoint.json`, replaced atomically (temp file, fsync, rename) at each
 * save. The file it replaces is kept as `checkpoint.json.prev` (a rename, no extra write or fsync), the
 * backup used when the checkpoint is found damaged: its positions are older, so resuming from it sends
 * some records again and loses none. A damaged checkpoint is moved to `checkpoint.json.corrupt-<time>`.
 */
export class FileCheckpointStore implements CheckpointStore {
  private readonly file: string;
  private readonly backup: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly dir: string, name = 'checkpoint.json', private readonly now: () => Date = () => new Date()) {
    this.file = join(dir, name);
    this.backup = `${this.file}.prev`;
  }

  async load(validate?: CheckpointValidator): Promise<CheckpointLoad> {
    const main = await this.read(this.file, validate);
    if (main.kind === 'ok') return { state: main.state };
    const backup = await this.read(this.backup, validate);
    if (main.kind === 'missing') {
      // No checkpoint: a first start, or a crash between the two renames of a save (the backup is the
      // last state then).
      if (backup.kind === 'ok') return { state: backup.state };
      if (backup.kind === 'missing') return { state: {} };
      const keptAs = await this.keepAside(this.backup);
      return { state: {}, damage: { reason: `backup: ${backup.reason}`, ...(keptAs ? { keptAs } : {}), fromBackup: false } };
    }
    const keptAs = await this.keepAside(this.file);
    const where = keptAs ? { keptAs } : {};
    if (backup.kind === 'ok') return { state: backup.state, damage: { reason: main.reason, ...where, fromBackup: true } };
    return { state: {}, damage: { reason: main.reason, ...where, fromBackup: false } };
  }

  save(state: Record<string, unknown>): Promise<void> {
    const data = JSON.stringify(state);
    const run = async (): Promise<void> => {
      const tmp = `${this.file}.tmp`;
      let fh: FileHandle;
      try {
        fh = await open(tmp, 'w', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        fh = await open(tmp, 'w', 0o600);
      }
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await rename(this.file, this.backup);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await rename(tmp, this.file);
    };
    // Saves are serialized so that an older state never overwrites a newer one.
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async read(path: string, validate: CheckpointValidator | undefined): Promise<ReadResult> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'missing' };
      return { kind: 'damaged', reason: `unreadable (${code ?? 'error'})` };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { kind: 'damaged', reason: text.length === 0 ? 'empty file' : 'not JSON' };
    }
    return check(parsed, validate);
  }

  /** Moves a damaged file out of the way, so that it can be examined and is not read again. */
  private async keepAside(path: string): Promise<string | undefined> {
    const aside = `${path}.corrupt-${this.now().toISOString().replace(/[:.]/g, '-')}`;
    try {
      await rename(path, aside);
      return aside;
    } catch {
      return undefined;
    }
  }
}

/** In-memory store for tests: `state` is the checkpoint, `previous` the backup a save leaves behind. */
export class MemoryCheckpointStore implements CheckpointStore {
  state: Record<string, unknown> = {};
  previous: Record<string, unknown> | undefined;
  saves = 0;
  load(validate?: CheckpointValidator): Promise<CheckpointLoad> {
    if (Object.keys(this.state).length === 0) return Promise.resolve({ state: {} });
    const main = check(this.state, validate);
    if (main.kind === 'ok') return Promise.resolve({ state: structuredClone(main.state) });
    const reason = main.kind === 'damaged' ? main.reason : 'missing';
    const backup = this.previous === undefined ? undefined : check(this.previous, validate);
    if (backup?.kind === 'ok') return Promise.resolve({ state: structuredClone(backup.state), damage: { reason, fromBackup: true } });
    return Promise.resolve({ state: {}, damage: { reason, fromBackup: false } });
  }
  save(state: Record<string, unknown>): Promise<void> {
    if (Object.keys(this.state).length > 0) this.previous = this.state;
    this.state = structuredClone(state);
    this.saves++;
    return Promise.resolve();
  }
}
