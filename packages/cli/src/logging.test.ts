import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setUpLogging } from './logging.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'oma-logging-'));
  dirs.push(d);
  return d;
}

describe('the log file', () => {
  it('is created for the agent user only', async () => {
    if (process.platform === 'win32') return; // POSIX modes only
    const dir = join(tempDir(), 'logs');
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const logging = setUpLogging({ level: 'info', dir });
    logging.log.info('hello');
    logging.close();
    await vi.waitFor(() => expect(existsSync(join(dir, 'oma.log'))).toBe(true));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'oma.log')).mode & 0o777).toBe(0o600);
  });

  it('a write error (a full disk) never stops the agent: lines go on to stderr, the failure is told once and counted', async () => {
    if (!existsSync('/dev/full')) return; // Linux: writes to /dev/full fail with ENOSPC
    const dir = tempDir();
    symlinkSync('/dev/full', join(dir, 'oma.log'));
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
    const logging = setUpLogging({ level: 'info', dir, fileRetryMs: 60_000 });
    let errors = 0;
    logging.onFileError = () => errors++;
    for (let i = 0; i < 50; i++) logging.log.info({ i }, 'line');
    await vi.waitFor(() => expect(errors).toBe(1));
    for (let i = 0; i < 50; i++) logging.log.info({ i }, 'after');
    logging.flush();
    logging.close();
    const told = stderr.filter((l) => l.includes('log file write failed'));
    expect(told).toHaveLength(1);
    expect(told[0]).toContain('ENOSPC');
    expect(errors).toBe(1);
  });

  it('is written again once it can be, after the retry delay', async () => {
    if (!existsSync('/dev/full')) return;
    const dir = tempDir();
    const file = join(dir, 'oma.log');
    symlinkSync('/dev/full', file);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const logging = setUpLogging({ level: 'info', dir, fileRetryMs: 50 });
    let errors = 0;
    logging.onFileError = () => errors++;
    logging.log.info('lost to the full device');
    await vi.waitFor(() => expect(errors).toBe(1));
    unlinkSync(file); // space again: the next open creates a regular file
    await new Promise((r) => setTimeout(r, 60));
    logging.log.info('written again');
    await vi.waitFor(() => expect(existsSync(file) && readFileSync(file, 'utf8')).toContain('"msg":"written again"'));
    logging.close();
  });
});
