import { mkdtemp, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { journalContract } from '@oma/core/testing';
import { canWriteJournals, writeJournal } from './journal-testing.js';

// The real adapter, on journal files written by systemd-journal-remote (Linux with the package installed).
if (canWriteJournals()) {
  const { NativeJournalBinding } = await import('./journal.js');
  await journalContract('native addon', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oma-journal-'));
    const path = (name: string) => join(dir, name);
    return {
      binding: new NativeJournalBinding(),
      dir,
      path,
      write: (name, entries) => writeJournal(path(name), entries),
      // Cut to half its size, as a crash can leave a file: libsystemd refuses it (ENODATA).
      damage: async (name) => truncate(path(name), Math.floor((await stat(path(name))).size / 2)),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  });
} else {
  it.skip('JournalReader contract: native addon (needs Linux and /lib/systemd/systemd-journal-remote)', () => {});
}
