import { describe, expect, it } from 'vitest';
import { errorCode, isRetryableStatus, isThrottlingStatus, isTransientNetworkError } from './classify.js';

describe('status classification', () => {
  it('retries 408, 429 and 5xx except 501 and 505', () => {
    for (const s of [408, 429, 500, 502, 503, 504, 507, 599]) expect(isRetryableStatus(s), String(s)).toBe(true);
    for (const s of [200, 204, 400, 401, 403, 404, 413, 501, 505]) expect(isRetryableStatus(s), String(s)).toBe(false);
  });

  it('honours Retry-After on 429 and 503', () => {
    expect(isThrottlingStatus(429)).toBe(true);
    expect(isThrottlingStatus(503)).toBe(true);
    expect(isThrottlingStatus(500)).toBe(false);
  });
});

describe('network errors', () => {
  it('finds the code on the error, its cause chain or aggregated errors', () => {
    expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(errorCode(new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ENOTFOUND' }) }))).toBe('ENOTFOUND');
    expect(errorCode(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })]))).toBe('ECONNREFUSED');
    expect(errorCode(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe('ETIMEDOUT');
    expect(errorCode(new Error('plain'))).toBeUndefined();
    expect(errorCode('not an error')).toBeUndefined();
  });

  it('treats connection failures and undici timeouts as transient', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_SOCKET']) {
      expect(isTransientNetworkError(Object.assign(new Error(code), { code })), code).toBe(true);
    }
    expect(isTransientNetworkError(Object.assign(new Error('cert'), { code: 'CERT_HAS_EXPIRED' }))).toBe(false);
    expect(isTransientNetworkError(new Error('plain'))).toBe(false);
  });

  it('survives cyclic cause chains', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(errorCode(a)).toBeUndefined();
  });
});
