import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { toJournalExport, type JournalTestEntry } from '@oma/core/testing';

/** Debian's systemd-journal-remote (package systemd-journal-remote), which writes journal files from export-format input. */
export const JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote';

/** True when journal files can be made here (Linux with systemd-journal-remote installed). */
export function canWriteJournals(): boolean {
  return process.platform === 'linux' && existsSync(JOURNAL_REMOTE);
}

/**
 * Appends entries to the journal file `path` (created if missing) with systemd-journal-remote, from
 * their export format; resolves when it exited (the entries are in the file).
 */
export function writeJournal(path: string, entries: readonly JournalTestEntry[] | Buffer): Promise<void> {
  const input = Buffer.isBuffer(entries) ? entries : toJournalExport(entries);
  return new Promise((resolve, reject) => {
    const child = spawn(JOURNAL_REMOTE, [`--output=${path}`, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`systemd-journal-remote exited ${code}: ${stderr.trim()}`))));
    child.stdin.end(input);
  });
}
