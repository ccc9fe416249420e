import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** Durable key/value positions of one source (a JSON file written atomically). */
export interface CheckpointStore {
  load(): Promise<Record<string, unknown>>;
  /** Replaces the whole state; durable (fsync + rename) when it resolves. */
  save(state: Record<string, unknown>): Promise<void>;
}

export class FileCheckpointStore implements CheckpointStore {
  private readonly file: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly dir: string, name = 'checkpoint.json') {
    this.file = join(dir, name);
  }

  async load(): Promise<Record<string, unknown>> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.file, 'utf8'));
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      // A damaged checkpoint must not stop the agent: start over from the source's default position.
      return {};
    }
  }

  save(state: Record<string, unknown>): Promise<void> {
    const data = JSON.stringify(state);
    const run = async (): Promise<void> => {
      await mkdir(this.dir, { recursive: true });
      const tmp = `${this.file}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    };
    // Saves are serialized so that an older state never overwrites a newer one.
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** In-memory store for tests. */
export class MemoryCheckpointStore implements CheckpointStore {
  state: Record<string, unknown> = {};
  saves = 0;
  load(): Promise<Record<string, unknown>> {
    return Promise.resolve(structuredClone(this.state));
  }
  save(state: Record<string, unknown>): Promise<void> {
    this.state = structuredClone(state);
    this.saves++;
    return Promise.resolve();
  }
}
