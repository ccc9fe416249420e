import { describe, expect, it } from 'vitest';
import { formatBytes, parseSince, renderTable } from './format.js';

describe('terminal formatting', () => {
  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MiB');
  });

  it('aligns a table, flattens newlines and cuts wide cells', () => {
    const out = renderTable(['a', 'bb'], [{ a: 'x', bb: 'multi\nline' }, { a: 'y'.repeat(100), bb: { k: 1 } }], 10);
    const lines = out.split('\n');
    expect(lines[0]).toBe('a           bb');
    expect(lines[1]).toBe('----------  ----------');
    expect(lines[2]).toBe('x           multi\u21b5 line');
    expect(lines[3]).toBe(`${'y'.repeat(9)}\u2026  {"k":1}`);
  });

  it('parses --since durations and dates', () => {
    const now = Date.UTC(2026, 0, 1, 12);
    expect(parseSince('10m', now)).toBe(now - 600_000);
    expect(parseSince('1d', now)).toBe(now - 86_400_000);
    expect(parseSince('2026-01-01T00:00:00Z', now)).toBe(Date.UTC(2026, 0, 1));
    expect(() => parseSince('yesterday', now)).toThrow(/--since/);
  });
});
