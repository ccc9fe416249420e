import { describe, expect, it } from 'vitest';
import { retryDelayMs as dataCollectorRetryDelayMs } from '../shared/retry.js';
import { classifyDataCollectorStatus, parseDataCollectorError } from './status.js';

const NOW = Date.UTC(2026, 0, 1);
const body = (code: string): string => JSON.stringify({ Error: code, Message: 'm' });

describe('data collector statuses', () => {
  it('reads both error body shapes', () => {
    expect(parseDataCollectorError(body('InvalidLogType'))).toEqual({ code: 'InvalidLogType', message: 'm' });
    expect(parseDataCollectorError('{"error":{"code":"X","message":"y"}}')).toEqual({ code: 'X', message: 'y' });
    expect(parseDataCollectorError('not json')).toEqual({});
    expect(parseDataCollectorError('')).toEqual({});
  });

  it('classifies per docs/protocol-notes.md#data-collector-responses', () => {
    const c = (status: number, b = '', headers = {}): unknown => classifyDataCollectorStatus(status, headers, b, NOW);
    expect(c(200)).toEqual({ kind: 'delivered' });
    expect(c(202)).toEqual({ kind: 'delivered' });
    expect(c(400, body('InvalidDataFormat'))).toEqual({ kind: 'rejected', reason: 'rejected_400', code: 'InvalidDataFormat' });
    expect(c(400, body('InvalidLogType'))).toEqual({ kind: 'rejected', reason: 'rejected_400', code: 'InvalidLogType' });
    expect(c(400)).toEqual({ kind: 'rejected', reason: 'rejected_400' });
    for (const code of ['InvalidCustomerId', 'InactiveCustomer', 'InvalidApiVersion', 'MissingLogType', 'MissingApiVersion', 'MissingContentType']) {
      expect(c(400, body(code))).toEqual({ kind: 'retry', cause: 'configuration', code });
    }
    expect(c(403, body('InvalidAuthorization'))).toEqual({ kind: 'retry', cause: 'forbidden', code: 'InvalidAuthorization' });
    expect(c(404)).toEqual({ kind: 'not_found' });
    expect(c(413)).toEqual({ kind: 'too_large' });
    expect(c(429, '', { 'retry-after': '7' })).toEqual({ kind: 'retry', cause: 'throttled', retryAfterMs: 7000 });
    expect(c(429)).toEqual({ kind: 'retry', cause: 'transient' });
    expect(c(500, body('UnspecifiedError'))).toEqual({ kind: 'retry', cause: 'transient' });
    expect(c(503, '', { 'retry-after': '1' })).toEqual({ kind: 'retry', cause: 'throttled', retryAfterMs: 1000 });
    expect(c(408)).toEqual({ kind: 'retry', cause: 'transient' });
    expect(c(407)).toEqual({ kind: 'retry', cause: 'configuration' });
    expect(c(409)).toEqual({ kind: 'rejected', reason: 'rejected_409' });
    expect(c(301)).toEqual({ kind: 'retry', cause: 'unexpected' });
    expect(c(501)).toEqual({ kind: 'retry', cause: 'unexpected' });
  });

  it('waits at least a minute for configuration causes, and the server delay when throttled', () => {
    const policy = { initialDelayMs: 1000, maxDelayMs: 300_000 };
    for (const cause of ['forbidden', 'not_found', 'configuration', 'unexpected'] as const) {
      expect(dataCollectorRetryDelayMs(cause, 1, policy, undefined, () => 0)).toBe(60_000);
    }
    expect(dataCollectorRetryDelayMs('transient', 1, policy, undefined, () => 0)).toBe(500);
    expect(dataCollectorRetryDelayMs('throttled', 1, policy, 7000, () => 0)).toBe(7000);
    expect(dataCollectorRetryDelayMs('configuration', 1, { initialDelayMs: 5, maxDelayMs: 20 }, undefined, () => 0)).toBe(20);
  });
});
