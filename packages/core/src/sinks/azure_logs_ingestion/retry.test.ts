import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../shared/retry.js';
import { classifyStatus } from './retry.js';

const NOW = Date.UTC(2026, 0, 1);
const policy = { initialDelayMs: 1000, maxDelayMs: 300_000 };

describe('classifyStatus', () => {
  it('maps Logs Ingestion statuses to actions', () => {
    expect(classifyStatus(204, {}, NOW)).toEqual({ kind: 'delivered' });
    expect(classifyStatus(200, {}, NOW)).toEqual({ kind: 'delivered' });
    expect(classifyStatus(413, {}, NOW)).toEqual({ kind: 'too_large' });
    expect(classifyStatus(401, {}, NOW)).toEqual({ kind: 'unauthorized' });
    expect(classifyStatus(400, {}, NOW)).toEqual({ kind: 'rejected', reason: 'rejected_400' });
    expect(classifyStatus(422, {}, NOW)).toEqual({ kind: 'rejected', reason: 'rejected_422' });
    expect(classifyStatus(403, {}, NOW)).toEqual({ kind: 'retry', cause: 'forbidden' });
    expect(classifyStatus(404, {}, NOW)).toEqual({ kind: 'retry', cause: 'not_found' });
    expect(classifyStatus(408, {}, NOW)).toEqual({ kind: 'retry', cause: 'transient' });
    expect(classifyStatus(500, {}, NOW)).toEqual({ kind: 'retry', cause: 'transient' });
    expect(classifyStatus(503, {}, NOW)).toEqual({ kind: 'retry', cause: 'transient' });
    expect(classifyStatus(501, {}, NOW)).toEqual({ kind: 'retry', cause: 'unexpected' });
    expect(classifyStatus(302, {}, NOW)).toEqual({ kind: 'retry', cause: 'unexpected' });
  });

  it('reads the server delay of 429 and 503', () => {
    expect(classifyStatus(429, { 'retry-after': '2' }, NOW)).toEqual({ kind: 'retry', cause: 'throttled', retryAfterMs: 2000 });
    expect(classifyStatus(503, { 'x-ms-retry-after-ms': '750' }, NOW)).toEqual({ kind: 'retry', cause: 'throttled', retryAfterMs: 750 });
    expect(classifyStatus(429, {}, NOW)).toEqual({ kind: 'retry', cause: 'transient' });
    expect(classifyStatus(500, { 'retry-after': '2' }, NOW)).toEqual({ kind: 'retry', cause: 'transient' });
  });
});

describe('retryDelayMs', () => {
  it('waits exactly the server delay when throttled', () => {
    expect(retryDelayMs('throttled', 7, policy, 2000, () => 0.5)).toBe(2000);
    expect(retryDelayMs('throttled', 1, policy, 0, () => 0.5)).toBe(0);
    expect(retryDelayMs('throttled', 1, policy, 10 * 3_600_000, () => 0.5)).toBe(3_600_000);
  });

  it('backs off exponentially with jitter for transient failures', () => {
    expect(retryDelayMs('transient', 1, policy, undefined, () => 0)).toBe(500);
    expect(retryDelayMs('network', 3, policy, undefined, () => 1)).toBe(4000);
    expect(retryDelayMs('transient', 30, policy, undefined, () => 1)).toBe(300_000);
  });

  it('treats a server delay as a floor for other causes', () => {
    expect(retryDelayMs('auth', 1, policy, 9000, () => 1)).toBe(9000);
  });

  it('waits at least 60 s on 403/404, capped by maxDelayMs', () => {
    expect(retryDelayMs('forbidden', 1, policy, undefined, () => 0)).toBe(60_000);
    expect(retryDelayMs('not_found', 8, policy, undefined, () => 1)).toBe(128_000);
    expect(retryDelayMs('forbidden', 30, policy, undefined, () => 1)).toBe(300_000);
    expect(retryDelayMs('not_found', 1, { initialDelayMs: 10, maxDelayMs: 20_000 }, undefined, () => 0)).toBe(20_000);
  });
});
