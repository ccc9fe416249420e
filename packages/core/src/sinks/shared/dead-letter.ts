import { mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../telemetry/logger.js';

export interface DeadLetterEntry {
  readonly table: string;
  readonly stream: string;
  /** Why the records were rejected, e.g. `rejected_400` or `record_too_large`. */
  readonly reason: string;
  /** HTTP status of the rejection, if the service answered. */
  readonly status?: number;
  /** `x-ms-client-request-id` of the rejected request, if one was sent. */
  readonly requestId?: string;
  /** The service's error body (parsed JSON when it is JSON, else text). */
  readonly error?: unknown;
  /** The records, each already serialized as JSON. */
  readonly records: readonly string[];
}

const FILE_RE = /^\d{8}T\d{9}Z-\d{6}-[A-Za-z0-9_-]+\.json$/;

/**
 * Writes rejected records to `<dir>/<time>-<n>-<reason>.json` (one JSON document per rejection:
 * metadata, the service's error and the records) and keeps the directory under `maxBytes` by deleting
 * the oldest files. Writes are serialized; failures are logged and reported, never thrown.
 */
export class DeadLetterWriter {
  private chain: Promise<unknown> = Promise.resolve();
  private files: Array<{ name: string; bytes: number }> | undefined;
  private total = 0;
  private counter = 0;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** Writes one entry. Resolves to the file written, or undefined when nothing was kept (logged). */
  write(entry: DeadLetterEntry): Promise<string | undefined> {
    const p = this.chain.then(() => this.writeNow(entry));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async writeNow(entry: DeadLetterEntry): Promise<string | undefined> {
    const at = this.now();
    const doc = Buffer.from(
      `{"time":${JSON.stringify(new Date(at).toISOString())},"table":${JSON.stringify(entry.table)},` +
        `"stream":${JSON.stringify(entry.stream)},"reason":${JSON.stringify(entry.reason)},` +
        `"status":${entry.status ?? null},"requestId":${JSON.stringify(entry.requestId ?? null)},` +
        `"error":${safeJson(entry.error)},"records":[\n${entry.records.join(',\n')}\n]}\n`,
      'utf8',
    );
    if (doc.length > this.maxBytes) {
      this.log.error(
        { table: entry.table, reason: entry.reason, count: entry.records.length, bytes: doc.length, maxBytes: this.maxBytes },
        'rejected records exceed the dead-letter space; not kept',
      );
      return undefined;
    }
    try {
      const files = await this.load();
      this.counter = (this.counter + 1) % 1_000_000;
      const name = `${compactTime(at)}-${String(this.counter).padStart(6, '0')}-${entry.reason.replace(/[^A-Za-z0-9_-]/g, '_')}.json`;
      const path = join(this.dir, name);
      await writeFile(path, doc, { mode: 0o600 });
      files.push({ name, bytes: doc.length });
      this.total += doc.length;
      await this.trim(files);
      return path;
    } catch (err) {
      this.files = undefined; // re-scan next time
      this.log.error({ err, table: entry.table, reason: entry.reason, count: entry.records.length }, 'cannot write dead-letter file');
      return undefined;
    }
  }

  private async load(): Promise<Array<{ name: string; bytes: number }>> {
    if (this.files) return this.files;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const names = (await readdir(this.dir)).filter((n) => FILE_RE.test(n)).sort();
    const files: Array<{ name: string; bytes: number }> = [];
    let total = 0;
    for (const name of names) {
      try {
        const st = await stat(join(this.dir, name));
        files.push({ name, bytes: st.size });
        total += st.size;
      } catch {
        // Deleted meanwhile.
      }
    }
    this.files = files;
    this.total = total;
    return files;
  }

  private async trim(files: Array<{ name: string; bytes: number }>): Promise<void> {
    while (this.total > this.maxBytes && files.length > 0) {
      const oldest = files.shift()!;
      this.total -= oldest.bytes;
      try {
        await unlink(join(this.dir, oldest.name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
}

function compactTime(ms: number): string {
  // 2026-01-01T00:00:00.123Z -> 20260101T000000123Z: sortable and valid on every file system.
  return new Date(ms).toISOString().replace(/[-:.]/g, '');
}

function safeJson(v: unknown): string {
  if (v === undefined) return 'null';
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return JSON.stringify(typeof v === 'string' ? v : Object.prototype.toString.call(v));
  }
}
