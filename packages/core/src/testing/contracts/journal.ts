import type { JournalBatch, JournalBinding, JournalOpenOptions, JournalReader } from '../../ports/journal.js';
import { JOURNAL_ENTRY_TRUNCATED, JOURNAL_FIELD_ABSENT } from '../../ports/journal.js';
import type { JournalTestEntry } from '../fake-journal.js';

/** What the journal contract suite needs from a binding under test. */
export interface JournalHarness {
  readonly binding: JournalBinding;
  /** A directory the harness's journal files are in. */
  readonly dir: string;
  /** Path of the journal file `name` in `dir`. */
  path(name: string): string;
  /** Appends entries to the journal file `name` in `dir` (created on first write); resolves once they are readable. */
  write(name: string, entries: readonly JournalTestEntry[]): Promise<void>;
  /** Makes the journal file `name` unreadable as a whole (a real file: cut short, as a crash can leave it). */
  damage(name: string): Promise<void>;
  /** Removes what the harness made. */
  dispose(): Promise<void>;
}

/** One entry as read, decoded for comparisons. */
export interface ReadEntry {
  readonly cursor: string;
  readonly fields: Record<string, Buffer | undefined>;
  readonly realtimeUs: number;
  readonly flags: number;
}

/** Decodes a batch (copies: the batch's slab is reused by the next read). */
export function decodeJournalBatch(b: JournalBatch, fields: readonly string[]): ReadEntry[] {
  const out: ReadEntry[] = [];
  for (let i = 0; i < b.count; i++) {
    const base = i * b.stride;
    const rec: Record<string, Buffer | undefined> = {};
    fields.forEach((f, k) => {
      const off = b.offsets[base + 1 + k]!;
      rec[f] = off === JOURNAL_FIELD_ABSENT ? undefined : Buffer.from(b.data.subarray(off, off + b.lengths[base + 1 + k]!));
    });
    const c = b.offsets[base]!;
    out.push({ cursor: b.data.toString('utf8', c, c + b.lengths[base]!), fields: rec, realtimeUs: b.times[2 * i]!, flags: b.flags[i]! });
  }
  return out;
}

/** Reads until a read returns nothing. */
export function readAllEntries(r: JournalReader, fields: readonly string[]): ReadEntry[] {
  const out: ReadEntry[] = [];
  for (;;) {
    const b = r.read();
    if (b.count === 0) return out;
    out.push(...decodeJournalBatch(b, fields));
  }
}

const T0 = 1_700_000_000_000_000;
const FIELDS = ['MESSAGE', 'PRIORITY', '_SYSTEMD_UNIT', 'NOPE'];

function entries(n: number, from = 0, unit = (i: number) => `u${i % 3}.service`): JournalTestEntry[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { realtimeUs: T0 + i * 1000, fields: { MESSAGE: `m${i}`, PRIORITY: String(i % 8), _SYSTEMD_UNIT: unit(i) } };
  });
}

const text = (e: ReadEntry, f: string) => e.fields[f]?.toString('utf8');

/**
 * The `JournalReader` contract: the fake (core) and the real addon adapter (agent-linux, Linux) both
 * pass it. vitest is imported when the suite is declared (await it at a test file's top level), so
 * `@oma/core/testing` loads without vitest outside tests.
 */
export async function journalContract(name: string, makeHarness: () => Promise<JournalHarness>): Promise<void> {
  const { afterEach, beforeEach, describe, expect, it, vi } = await import('vitest');

  describe(`JournalReader contract: ${name}`, () => {
    let h: JournalHarness;
    const readers: JournalReader[] = [];
    const open = async (opts: Partial<JournalOpenOptions> = {}) => {
      const r = await h.binding.open({
        location: { kind: 'directory', path: h.dir },
        fields: FIELDS,
        maxFieldBytes: 64 * 1024,
        batchSize: 16,
        ...opts,
      });
      readers.push(r);
      return r;
    };

    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      for (const r of readers.splice(0)) r.close();
      await h.dispose();
    });

    it('reads every entry in order, in batches of at most batchSize, with cursor, fields and realtime', async () => {
      await h.write('a.journal', entries(40));
      const r = await open();
      const b = r.read();
      expect(b.count).toBe(16);
      expect(b.stride).toBe(FIELDS.length + 1);
      const all = [...decodeJournalBatch(b, FIELDS), ...readAllEntries(r, FIELDS)];
      expect(all.map((e) => text(e, 'MESSAGE'))).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
      expect(all[5]!.realtimeUs).toBe(T0 + 5000);
      expect(text(all[5]!, 'PRIORITY')).toBe('5');
      expect(text(all[5]!, '_SYSTEMD_UNIT')).toBe('u2.service');
      expect(all[5]!.fields.NOPE).toBeUndefined();
      expect(new Set(all.map((e) => e.cursor)).size).toBe(40);
      expect(r.read().count).toBe(0);
    });

    it('keeps the bytes of a binary field, and cuts a field longer than maxFieldBytes (flagged)', async () => {
      const bin = Uint8Array.from([0x62, 0x00, 0xff, 0xfe, 0x0a, 0x41]);
      await h.write('a.journal', [
        { realtimeUs: T0, fields: { MESSAGE: bin } },
        { realtimeUs: T0 + 1, fields: { MESSAGE: 'x'.repeat(300) } },
      ]);
      const r = await open({ maxFieldBytes: 100 });
      const [a, b] = readAllEntries(r, FIELDS);
      expect([...a!.fields.MESSAGE!]).toEqual([...bin]);
      expect(a!.flags & JOURNAL_ENTRY_TRUNCATED).toBe(0);
      expect(b!.fields.MESSAGE!.toString()).toBe('x'.repeat(100));
      expect(b!.flags & JOURNAL_ENTRY_TRUNCATED).toBe(JOURNAL_ENTRY_TRUNCATED);
    });

    it('applies matches: alternatives across groups, every field within a group', async () => {
      await h.write('a.journal', entries(30));
      const one = await open({ matches: [['_SYSTEMD_UNIT=u1.service']] });
      expect(readAllEntries(one, FIELDS).map((e) => text(e, 'MESSAGE'))).toEqual(['m1', 'm4', 'm7', 'm10', 'm13', 'm16', 'm19', 'm22', 'm25', 'm28']);
      const either = await open({ matches: [['_SYSTEMD_UNIT=u1.service'], ['_SYSTEMD_UNIT=u2.service']] });
      expect(readAllEntries(either, FIELDS)).toHaveLength(20);
      const both = await open({ matches: [['_SYSTEMD_UNIT=u1.service', 'PRIORITY=4']] });
      expect(readAllEntries(both, FIELDS).map((e) => text(e, 'MESSAGE'))).toEqual(['m4', 'm28']);
      const sameField = await open({ matches: [['PRIORITY=0', 'PRIORITY=1']] });
      expect(readAllEntries(sameField, FIELDS)).toHaveLength(8);
    });

    it('resumes after a cursor without reading its entry again, from a new reader', async () => {
      await h.write('a.journal', entries(20));
      const r = await open();
      const first = decodeJournalBatch(r.read(), FIELDS);
      r.close();
      const again = await open();
      again.seekCursor(first[first.length - 1]!.cursor);
      const rest = readAllEntries(again, FIELDS);
      expect([...first, ...rest].map((e) => text(e, 'MESSAGE'))).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    });

    it('rejects a string that is no cursor', async () => {
      await h.write('a.journal', entries(1));
      const r = await open();
      let thrown: unknown;
      try {
        r.seekCursor('not a cursor');
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({ code: 'OMA_ERR_NATIVE' });
    });

    it('seekTail reads only entries written later; seekHead goes back to the oldest', async () => {
      await h.write('a.journal', entries(5));
      const r = await open();
      r.seekTail();
      expect(r.read().count).toBe(0);
      await h.write('a.journal', entries(3, 5));
      await vi.waitFor(() => {
        expect(readAllEntries(r, FIELDS).map((e) => text(e, 'MESSAGE'))).toEqual(['m5', 'm6', 'm7']);
      });
      r.seekHead();
      expect(readAllEntries(r, FIELDS)).toHaveLength(8);
    });

    it('wait reports entries appended to the file being read and a new file in the directory', async () => {
      await h.write('a.journal', entries(3));
      const r = await open();
      expect(r.unreadable).toEqual([]);
      expect(readAllEntries(r, FIELDS)).toHaveLength(3);
      const seen: string[] = [];
      const drain = async (want: number) => {
        const deadline = Date.now() + 10_000;
        while (seen.length < want && Date.now() < deadline) {
          const got = readAllEntries(r, FIELDS);
          seen.push(...got.map((e) => text(e, 'MESSAGE')!));
          if (got.length === 0) await r.wait(200);
        }
      };
      const waiting = r.wait(10_000);
      await h.write('a.journal', entries(2, 3));
      expect(await waiting).toBe('changed');
      await drain(2);
      await h.write('b.journal', entries(2, 5));
      await drain(4);
      expect(seen).toEqual(['m3', 'm4', 'm5', 'm6']);
    });

    it('wait times out when nothing changes, and resolves closed when the reader closes', async () => {
      await h.write('a.journal', entries(1));
      const r = await open();
      readAllEntries(r, FIELDS);
      expect(await r.wait(50)).toBe('timeout');
      const w = r.wait(10_000);
      r.close();
      expect(await w).toBe('closed');
    });

    it('reports a file it cannot open and reads the others (directory and file list); fails when no file opens', async () => {
      await h.write('a.journal', entries(3));
      await h.write('b.journal', entries(2, 3));
      await h.damage('b.journal');
      const dir = await open();
      expect(dir.unreadable.map((p) => p.path)).toEqual([h.path('b.journal')]);
      expect(dir.unreadable[0]!.error).toMatchObject({ code: 'OMA_ERR_NATIVE' });
      expect(readAllEntries(dir, FIELDS).map((e) => text(e, 'MESSAGE'))).toEqual(['m0', 'm1', 'm2']);
      const files = await open({ location: { kind: 'files', paths: [h.path('a.journal'), h.path('b.journal')] } });
      expect(files.unreadable.map((p) => p.path)).toEqual([h.path('b.journal')]);
      expect(readAllEntries(files, FIELDS)).toHaveLength(3);
      await expect(open({ location: { kind: 'files', paths: [h.path('b.journal')] } })).rejects.toMatchObject({ code: 'OMA_ERR_NATIVE' });
    });

    it('reads the files it was given, and not the others', async () => {
      await h.write('a.journal', entries(3));
      await h.write('b.journal', entries(2, 3));
      const r = await open({ location: { kind: 'files', paths: [h.path('b.journal')] } });
      expect(readAllEntries(r, FIELDS).map((e) => text(e, 'MESSAGE'))).toEqual(['m3', 'm4']);
    });
  });
}
