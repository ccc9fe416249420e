import { describe, expect, it } from 'vitest';
import { parseRetryAfterValue, retryAfterMs } from './retry-after.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('parseRetryAfterValue', () => {
  it('reads delta seconds, including fractions', () => {
    expect(parseRetryAfterValue('2', NOW)).toBe(2000);
    expect(parseRetryAfterValue(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfterValue('1.5', NOW)).toBe(1500);
  });

  it('reads an HTTP date as the delay from now, floored at 0', () => {
    expect(parseRetryAfterValue('Thu, 01 Jan 2026 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfterValue('Thu, 01 Jan 2026 11:59:00 GMT', NOW)).toBe(0);
  });

  it('rejects values that are neither', () => {
    expect(parseRetryAfterValue('soon', NOW)).toBeUndefined();
    expect(parseRetryAfterValue('-5', NOW)).toBeUndefined();
    expect(parseRetryAfterValue('', NOW)).toBeUndefined();
    expect(parseRetryAfterValue(undefined, NOW)).toBeUndefined();
  });
});

describe('retryAfterMs', () => {
  it('prefers retry-after-ms, then x-ms-retry-after-ms, then Retry-After', () => {
    const all = { 'retry-after-ms': '250', 'x-ms-retry-after-ms': '500', 'retry-after': '9' };
    expect(retryAfterMs(all, NOW)).toBe(250);
    expect(retryAfterMs({ 'x-ms-retry-after-ms': '500', 'retry-after': '9' }, NOW)).toBe(500);
    expect(retryAfterMs({ 'retry-after': '9' }, NOW)).toBe(9000);
  });

  it('skips an invalid header and uses the next one', () => {
    expect(retryAfterMs({ 'retry-after-ms': 'abc', 'retry-after': '3' }, NOW)).toBe(3000);
  });

  it('takes the first of repeated headers', () => {
    expect(retryAfterMs({ 'retry-after': ['4', '8'] }, NOW)).toBe(4000);
  });

  it('is undefined without usable headers', () => {
    expect(retryAfterMs({}, NOW)).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': 'later' }, NOW)).toBeUndefined();
  });
});
