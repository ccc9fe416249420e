import { describe, expect, it } from 'vitest';
import { backoffWithJitterMs, exponentialDelayMs } from './backoff.js';

const policy = { initialDelayMs: 1000, maxDelayMs: 300_000 };

describe('exponentialDelayMs', () => {
  it('doubles from the initial delay and stops at the cap', () => {
    expect([1, 2, 3, 4].map((a) => exponentialDelayMs(a, policy))).toEqual([1000, 2000, 4000, 8000]);
    expect(exponentialDelayMs(9, policy)).toBe(256_000);
    expect(exponentialDelayMs(10, policy)).toBe(300_000);
    expect(exponentialDelayMs(10_000, policy)).toBe(300_000);
  });

  it('treats attempts below 1 as the first', () => {
    expect(exponentialDelayMs(0, policy)).toBe(1000);
    expect(exponentialDelayMs(-3, policy)).toBe(1000);
  });
});

describe('backoffWithJitterMs', () => {
  it('equal jitter stays within [d/2, d]', () => {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const d = exponentialDelayMs(attempt, policy);
      expect(backoffWithJitterMs(attempt, policy, () => 0)).toBe(Math.round(d / 2));
      expect(backoffWithJitterMs(attempt, policy, () => 0.999_999)).toBeLessThanOrEqual(d);
      const v = backoffWithJitterMs(attempt, policy);
      expect(v).toBeGreaterThanOrEqual(Math.round(d / 2));
      expect(v).toBeLessThanOrEqual(d);
    }
  });

  it('full jitter stays within [0, d]', () => {
    const full = { ...policy, jitter: 'full' as const };
    expect(backoffWithJitterMs(3, full, () => 0)).toBe(0);
    expect(backoffWithJitterMs(3, full, () => 0.5)).toBe(2000);
    for (let i = 0; i < 100; i++) {
      const v = backoffWithJitterMs(12, full);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(300_000);
    }
  });

  it('never exceeds the cap, even with a random source out of range', () => {
    expect(backoffWithJitterMs(50, policy, () => 7)).toBe(300_000);
    expect(backoffWithJitterMs(50, policy, () => -1)).toBe(150_000);
  });
});
