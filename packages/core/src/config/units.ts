import { z } from 'zod';

/** Byte sizes: a number of bytes or a string with a unit (`512KiB`, `50MB`, `1GiB`). */
export const bytesSchema = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(/^\s*\d+(\.\d+)?\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$/i, 'expected a size such as 1048576, 512KiB, 50MB or 1GiB'),
  ])
  .transform((v) => (typeof v === 'number' ? v : parseBytes(v)));

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

export function parseBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(s);
  if (!m) throw new Error(`not a size: ${s}`);
  const unit = UNITS[(m[2] || 'b').toLowerCase()];
  if (unit === undefined) throw new Error(`unknown size unit in ${s}`);
  return Math.round(Number(m[1]) * unit);
}

/** Durations in milliseconds: a number of ms or a string with a unit (`500ms`, `10s`, `5m`, `1h`). */
export const durationMsSchema = z
  .union([
    z.number().nonnegative(),
    z.string().regex(/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/, 'expected a duration such as 500ms, 10s, 5m or 1h'),
  ])
  .transform((v) => (typeof v === 'number' ? v : parseDurationMs(v)));

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDurationMs(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(s);
  if (!m) throw new Error(`not a duration: ${s}`);
  return Math.round(Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 1));
}
