/** Human-readable sizes and tables for the terminal. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.replace(/\r?\n/g, '\u21b5 ');
}

/**
 * Renders rows as an aligned text table. Columns wider than `maxWidth` are cut with an ellipsis; the
 * last column is not padded.
 */
export function renderTable(columns: readonly string[], rows: ReadonlyArray<Record<string, unknown>>, maxWidth = 60): string {
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.min(maxWidth, Math.max(c.length, ...cells.map((row) => row[i]!.length))));
  const fit = (s: string, w: number): string => (s.length > w ? `${s.slice(0, Math.max(1, w - 1))}\u2026` : s.padEnd(w));
  const line = (vals: readonly string[]): string =>
    vals
      .map((v, i) => (i === vals.length - 1 ? (v.length > maxWidth * 3 ? `${v.slice(0, maxWidth * 3 - 1)}\u2026` : v) : fit(v, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Parses `10m`, `2h`, `30s`, `1d`, or an ISO date, into epoch ms relative to `now`. */
export function parseSince(s: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s.trim());
  if (m) {
    const mult: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
    return now - Number(m[1]) * mult[m[2]!]!;
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`--since: expected a duration such as 10m, 2h, 1d, or a date; got "${s}"`);
  return t;
}
