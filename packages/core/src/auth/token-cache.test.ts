import { describe, expect, it } from 'vitest';
import { FakeClock } from '../testing/fake-clock.js';
import type { AccessToken } from './credential.js';
import { TokenCache, tokenRefreshAtMs } from './token-cache.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const live = (): AbortSignal => new AbortController().signal;

describe('tokenRefreshAtMs', () => {
  it('refreshes 300 s before expiry for normal lifetimes', () => {
    expect(tokenRefreshAtMs({ token: 't', expiresAtMs: 3_600_000 }, 0)).toBe(3_300_000);
  });

  it('refreshes at half the lifetime when that is later (short-lived tokens)', () => {
    expect(tokenRefreshAtMs({ token: 't', expiresAtMs: 400_000 }, 0)).toBe(200_000);
    expect(tokenRefreshAtMs({ token: 't', expiresAtMs: 1000 + 600_000 }, 1000)).toBe(1000 + 300_000);
  });
});

describe('TokenCache', () => {
  it('fetches once and serves the cached token until the refresh time', async () => {
    const clock = new FakeClock(0);
    let n = 0;
    const cache = new TokenCache(() => Promise.resolve({ token: `t${++n}`, expiresAtMs: clock.now() + 3_600_000 }), clock);
    expect((await cache.get(live())).token).toBe('t1');
    await clock.advance(3_299_000);
    expect((await cache.get(live())).token).toBe('t1');
    await clock.advance(1_000);
    expect((await cache.get(live())).token).toBe('t2');
    expect(n).toBe(2);
  });

  it('shares one fetch between concurrent callers', async () => {
    const clock = new FakeClock(0);
    const pending = deferred<AccessToken>();
    let calls = 0;
    const cache = new TokenCache(() => {
      calls++;
      return pending.promise;
    }, clock);
    const all = Promise.all([cache.get(live()), cache.get(live()), cache.get(live())]);
    pending.resolve({ token: 'shared', expiresAtMs: 3_600_000 });
    expect((await all).map((t) => t.token)).toEqual(['shared', 'shared', 'shared']);
    expect(calls).toBe(1);
  });

  it('fetches a new token after invalidate', async () => {
    const clock = new FakeClock(0);
    let n = 0;
    const cache = new TokenCache(() => Promise.resolve({ token: `t${++n}`, expiresAtMs: 3_600_000 }), clock);
    await cache.get(live());
    cache.invalidate();
    expect((await cache.get(live())).token).toBe('t2');
  });

  it('keeps using a still-valid token when a refresh fails, and reports the failure', async () => {
    const clock = new FakeClock(0);
    let fail = false;
    const errors: unknown[] = [];
    const cache = new TokenCache(
      () => (fail ? Promise.reject(new Error('AADSTS50000: down')) : Promise.resolve({ token: 'old', expiresAtMs: clock.now() + 3_600_000 })),
      clock,
      (err) => errors.push(err),
    );
    await cache.get(live());
    fail = true;
    await clock.advance(3_400_000); // past the refresh time, before expiry
    expect((await cache.get(live())).token).toBe('old');
    expect(errors).toHaveLength(1);
    await clock.advance(200_000); // expired
    await expect(cache.get(live())).rejects.toThrow(/AADSTS50000/);
  });

  it('fails without a cached token', async () => {
    const cache = new TokenCache(() => Promise.reject(new Error('nope')), new FakeClock(0));
    await expect(cache.get(live())).rejects.toThrow('nope');
  });

  it("stops one caller's wait on its signal without cancelling the shared fetch", async () => {
    const clock = new FakeClock(0);
    const pending = deferred<AccessToken>();
    const cache = new TokenCache(() => pending.promise, clock);
    const ac = new AbortController();
    const first = cache.get(ac.signal);
    const second = cache.get(live());
    ac.abort(new Error('caller gave up'));
    await expect(first).rejects.toThrow('caller gave up');
    pending.resolve({ token: 'late', expiresAtMs: 3_600_000 });
    expect((await second).token).toBe('late');
  });

  it('aborts the fetch on close', async () => {
    const cache = new TokenCache(
      (signal) =>
        new Promise<AccessToken>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
      new FakeClock(0),
    );
    const p = cache.get(live());
    cache.close();
    await expect(p).rejects.toThrow('credential closed');
    await expect(cache.get(live())).rejects.toThrow('credential closed');
  });
});
