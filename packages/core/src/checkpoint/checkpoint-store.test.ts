import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileCheckpointStore, MemoryCheckpointStore } from './checkpoint-store.js';

const AT = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
const ASIDE = 'checkpoint.json.corrupt-2026-01-02T03-04-05-006Z';
const needsVersion = (s: Record<string, unknown>): string | undefined => (s.version === 1 ? undefined : 'version: unknown');

describe('FileCheckpointStore', () => {
  let dir: string;
  let store: FileCheckpointStore;
  const file = (name = 'checkpoint.json'): string => join(dir, name);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oma-ckpt-'));
    store = new FileCheckpointStore(dir, 'checkpoint.json', () => AT);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads nothing and reports no damage on a first start', async () => {
    expect(await store.load(needsVersion)).toEqual({ state: {} });
  });

  it('keeps the state it replaces as the backup at each save', async () => {
    await store.save({ version: 1, n: 1 });
    expect(existsSync(file('checkpoint.json.prev'))).toBe(false);
    await store.save({ version: 1, n: 2 });
    await store.save({ version: 1, n: 3 });
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toEqual({ version: 1, n: 3 });
    expect(JSON.parse(readFileSync(file('checkpoint.json.prev'), 'utf8'))).toEqual({ version: 1, n: 2 });
    expect(await store.load(needsVersion)).toEqual({ state: { version: 1, n: 3 } });
  });

  for (const [what, text, reason] of [
    ['garbage', '\u0000\u0007garbage', 'not JSON'],
    ['truncated JSON', '{"version":1,"files":[{"path":"/var/log/a', 'not JSON'],
    ['an empty file', '', 'empty file'],
    ['JSON that is no object', '[1,2]', 'not a JSON object'],
    ['JSON the source does not understand', '{"version":7}', 'version: unknown'],
  ] as const) {
    it(`keeps ${what} aside and resumes from the backup`, async () => {
      await store.save({ version: 1, n: 1 });
      await store.save({ version: 1, n: 2 });
      writeFileSync(file(), text);
      expect(await store.load(needsVersion)).toEqual({
        state: { version: 1, n: 1 },
        damage: { reason, keptAs: file(ASIDE), fromBackup: true },
      });
      expect(readFileSync(file(ASIDE), 'utf8')).toBe(text);
      expect(existsSync(file())).toBe(false);
      // the next save writes a good checkpoint again and keeps the backup
      await store.save({ version: 1, n: 3 });
      expect(await store.load(needsVersion)).toEqual({ state: { version: 1, n: 3 } });
    });
  }

  it('reports damage with no state when there is no usable backup', async () => {
    writeFileSync(file(), '{"vers');
    expect(await store.load(needsVersion)).toEqual({ state: {}, damage: { reason: 'not JSON', keptAs: file(ASIDE), fromBackup: false } });
    writeFileSync(file(), '{"version":1}');
    writeFileSync(file('checkpoint.json.prev'), '{"version":');
    const later = new FileCheckpointStore(dir, 'checkpoint.json', () => new Date(AT.getTime() + 1000));
    expect(await later.load((s) => (s.version === 2 ? undefined : 'version: unknown'))).toMatchObject({ state: {}, damage: { fromBackup: false } });
    expect(readdirSync(dir).filter((n) => n.includes('.corrupt-'))).toHaveLength(2);
  });

  it('creates its directory on the first save', async () => {
    const nested = new FileCheckpointStore(join(dir, 'state', 'sources', 'app'));
    await nested.save({ version: 1 });
    expect(await nested.load(needsVersion)).toEqual({ state: { version: 1 } });
  });

  it('keeps positions for the agent user only: directory 0700, files 0600', async () => {
    if (process.platform === 'win32') return; // POSIX modes only
    const nested = new FileCheckpointStore(join(dir, 'state', 'sources', 'app'));
    await nested.save({ version: 1 });
    await nested.save({ version: 1, n: 2 });
    expect(statSync(join(dir, 'state', 'sources', 'app')).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(join(dir, 'state', 'sources', 'app'))) {
      expect({ name, mode: statSync(join(dir, 'state', 'sources', 'app', name)).mode & 0o777 }).toEqual({ name, mode: 0o600 });
    }
  });

  it('uses the backup when a crash came between the two renames of a save', async () => {
    await store.save({ version: 1, n: 1 });
    await store.save({ version: 1, n: 2 });
    renameSync(file(), file('checkpoint.json.tmp'));
    expect(await store.load(needsVersion)).toEqual({ state: { version: 1, n: 1 } });
  });
});

describe('MemoryCheckpointStore', () => {
  it('behaves like the file store: damage falls back to the previous state', async () => {
    const store = new MemoryCheckpointStore();
    await store.save({ version: 1, n: 1 });
    await store.save({ version: 1, n: 2 });
    expect(await store.load(needsVersion)).toEqual({ state: { version: 1, n: 2 } });
    store.state = { version: 9 };
    expect(await store.load(needsVersion)).toEqual({ state: { version: 1, n: 1 }, damage: { reason: 'version: unknown', fromBackup: true } });
  });
});
