import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../telemetry/logger.js';
import { DeadLetterWriter } from './dead-letter.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'oma-dlq-'));
  dirs.push(d);
  return join(d, 'dead-letter');
}

describe('DeadLetterWriter', () => {
  it('writes records with the service error and request id', async () => {
    const dir = tempDir();
    const w = new DeadLetterWriter(dir, 1_000_000, silentLogger(), () => Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    const file = await w.write({
      table: 'App_CL',
      stream: 'Custom-App_CL',
      reason: 'rejected_400',
      status: 400,
      requestId: 'req-1',
      error: { error: { code: 'InvalidJson', message: 'bad' } },
      records: ['{"a":1}', '{"a":2}'],
    });
    expect(file).toBeDefined();
    expect(file!.startsWith(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual(['20260102T030405006Z-000001-rejected_400.json']);
    const doc = JSON.parse(readFileSync(file!, 'utf8')) as Record<string, unknown>;
    expect(doc).toEqual({
      time: '2026-01-02T03:04:05.006Z',
      table: 'App_CL',
      stream: 'Custom-App_CL',
      reason: 'rejected_400',
      status: 400,
      requestId: 'req-1',
      error: { error: { code: 'InvalidJson', message: 'bad' } },
      records: [{ a: 1 }, { a: 2 }],
    });
    if (process.platform !== 'win32') expect(statSync(file!).mode & 0o777).toBe(0o600);
  });

  it('deletes the oldest files to stay within maxBytes, counting files from earlier runs', async () => {
    const dir = tempDir();
    let t = Date.UTC(2026, 0, 1);
    const first = new DeadLetterWriter(dir, 2000, silentLogger(), () => t++);
    const rec = `{"pad":"${'x'.repeat(400)}"}`;
    for (let i = 0; i < 3; i++) await first.write({ table: 'T', stream: 'Custom-T', reason: 'rejected_400', records: [rec] });
    expect(readdirSync(dir)).toHaveLength(3);
    writeFileSync(join(dir, 'notes.txt'), 'not ours');

    const second = new DeadLetterWriter(dir, 2000, silentLogger(), () => t++);
    for (let i = 0; i < 3; i++) await second.write({ table: 'T', stream: 'Custom-T', reason: 'rejected_400', records: [rec] });
    const ours = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
    const total = ours.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    expect(total).toBeLessThanOrEqual(2000);
    expect(ours.length).toBeGreaterThanOrEqual(3);
    // The newest survive.
    const times = ours.map((n) => n.slice(0, 19));
    expect(times[times.length - 1]).toBe(new Date(t - 1).toISOString().replace(/[-:.]/g, ''));
    expect(readdirSync(dir)).toContain('notes.txt');
  });

  it('keeps nothing when an entry exceeds the space (or the space is 0)', async () => {
    const dir = tempDir();
    const w = new DeadLetterWriter(dir, 0, silentLogger(), () => 0);
    expect(await w.write({ table: 'T', stream: 'Custom-T', reason: 'record_too_large', records: ['{}'] })).toBeUndefined();
  });

  it('reports an unwritable directory without throwing', async () => {
    const base = tempDir();
    writeFileSync(join(base, '..', 'blocker'), 'x');
    const w = new DeadLetterWriter(join(base, '..', 'blocker', 'dl'), 1000, silentLogger(), () => 0);
    expect(await w.write({ table: 'T', stream: 'Custom-T', reason: 'rejected_400', records: ['{}'] })).toBeUndefined();
  });
});
