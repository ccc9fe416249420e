import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Source } from '../../pipeline/component.js';
import { testSourceContext } from '../../testing/index.js';
import { customLogConfigSchema, customLogSource } from './index.js';

// Running as root makes permission errors impossible to provoke on a real file system, so the
// failures are injected at the file system boundary: opening `secret*` fails with EACCES, and the
// first read of `flaky*` fails with EIO.
const failures = { readsToFail: 1 };
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>();
  const open = async (path: Parameters<typeof fs.open>[0], ...rest: unknown[]): Promise<FileHandle> => {
    const p = String(path);
    if (p.includes('secret')) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
    const fh = await (fs.open as (...a: unknown[]) => Promise<FileHandle>)(path, ...rest);
    if (p.includes('flaky')) {
      const read = fh.read.bind(fh) as (...a: unknown[]) => Promise<unknown>;
      (fh as { read: unknown }).read = (...args: unknown[]) => {
        // Only reads of the content (big buffers), not of the fingerprint prefix.
        if ((args[0] as Buffer).length > 256 && failures.readsToFail > 0) {
          failures.readsToFail--;
          return Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
        }
        return read(...args);
      };
    }
    return fh;
  };
  return { ...fs, open, default: { ...fs, open } };
});

const LABELS = { component_id: 'app', component_type: 'custom_log' };
const WAIT = { timeout: 10_000, interval: 20 };

describe('custom_log source: file system errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oma-customlog-err-'));
  let source: Source | undefined;
  afterEach(async () => {
    await source?.stop(AbortSignal.timeout(5000));
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts a file it may not open once, keeps reading the others, and survives a failed read', async () => {
    writeFileSync(join(dir, 'secret.log'), 'hidden\n');
    writeFileSync(join(dir, 'flaky.log'), 'eventually\n');
    writeFileSync(join(dir, 'ok.log'), 'fine\n');
    const ctx = testSourceContext({ id: 'app', type: 'custom_log' });
    const config = customLogConfigSchema.parse({
      table: 'App_CL',
      filePatterns: [join(dir, '*.log')],
      startAt: 'beginning',
      scanIntervalMs: 30,
      pollIntervalMs: 10,
    });
    source = customLogSource.create(config, ctx);
    await source.start();
    const lines = (): string[] => ctx.emitted.flatMap((b) => b.records.map((r) => r.RawData as string)).sort();
    await vi.waitFor(() => expect(lines()).toEqual(['eventually', 'fine']), WAIT);
    expect(ctx.metrics.errors.get({ ...LABELS, error_type: 'EIO', stage: 'read' })).toBe(1);
    // several scans later the unopenable file is still counted once
    await new Promise((r) => setTimeout(r, 150));
    expect(ctx.metrics.errors.get({ ...LABELS, error_type: 'EACCES', stage: 'open' })).toBe(1);
  });
});
