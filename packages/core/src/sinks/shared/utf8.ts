import { utf8Boundary } from '../../encoding/json-escape.js';

/**
 * Cuts `s` to at most `maxBytes` of UTF-8 without splitting a character. Returns `s` itself when it
 * already fits.
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short strings need no encoding to decide.
  if (s.length * 3 <= maxBytes) return s;
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  return buf.toString('utf8', 0, utf8Boundary(buf, 0, maxBytes));
}

/**
 * The fields (name and value, in order) as an object, string values cut to `maxBytes` of UTF-8;
 * `changed` counts the values cut.
 */
export function truncateStringFields<V>(fields: Iterable<readonly [string, V]>, maxBytes: number): { out: Record<string, V>; changed: number } {
  let changed = 0;
  const out: Record<string, V> = {};
  for (const [name, value] of fields) {
    if (typeof value === 'string') {
      const cut = truncateUtf8(value, maxBytes);
      if (cut !== value) changed++;
      out[name] = cut as V;
    } else {
      out[name] = value;
    }
  }
  return { out, changed };
}
