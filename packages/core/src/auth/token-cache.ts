import { raceAbort } from '../http/abort.js';
import type { Clock } from '../ports/clock.js';
import type { AccessToken } from './credential.js';

/** Refresh this long before expiry, or at half the lifetime when the token lives shorter than twice this. */
export const TOKEN_REFRESH_MARGIN_MS = 300_000;

/**
 * When a token fetched at `fetchedAtMs` should be replaced: `expires_in - 300 s`, or half its
 * lifetime if that is later (short-lived tokens).
 */
export function tokenRefreshAtMs(token: AccessToken, fetchedAtMs: number): number {
  const lifetime = Math.max(0, token.expiresAtMs - fetchedAtMs);
  return fetchedAtMs + Math.max(lifetime - TOKEN_REFRESH_MARGIN_MS, lifetime / 2);
}

/** Fetches a fresh token; `signal` aborts when the cache closes. */
export type TokenFetcher = (signal: AbortSignal) => Promise<AccessToken>;

/**
 * Caches a token from a `TokenFetcher` and refreshes it ahead of expiry. Concurrent callers share one
 * fetch; a caller's own signal only stops that caller's wait. When a refresh fails while the cached
 * token is still valid, the cached token is used and the failure is reported through `onRefreshError`.
 */
export class TokenCache {
  private cached: { token: AccessToken; refreshAtMs: number } | undefined;
  private inflight: Promise<AccessToken> | undefined;
  private readonly closing = new AbortController();

  constructor(
    private readonly fetchToken: TokenFetcher,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly onRefreshError: (err: unknown) => void = () => undefined,
  ) {}

  async get(signal: AbortSignal): Promise<AccessToken> {
    signal.throwIfAborted();
    const now = this.clock.now();
    const cached = this.cached;
    if (cached && now < cached.refreshAtMs && now < cached.token.expiresAtMs) return cached.token;
    const pending = this.inflight ?? this.refresh();
    try {
      return await raceAbort(pending, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      const still = this.cached;
      if (still && this.clock.now() < still.token.expiresAtMs) {
        this.onRefreshError(err);
        return still.token;
      }
      throw err;
    }
  }

  invalidate(): void {
    this.cached = undefined;
  }

  /** Aborts a fetch in progress; later `get` calls fail. */
  close(): void {
    this.cached = undefined;
    this.closing.abort(Object.assign(new Error('credential closed'), { name: 'AbortError' }));
  }

  private refresh(): Promise<AccessToken> {
    const startedAt = this.clock.now();
    const p = (async () => {
      this.closing.signal.throwIfAborted();
      const token = await this.fetchToken(this.closing.signal);
      this.cached = { token, refreshAtMs: tokenRefreshAtMs(token, startedAt) };
      return token;
    })();
    const tracked = p.finally(() => {
      if (this.inflight === tracked) this.inflight = undefined;
    });
    // Callers may all have given up; the outcome is still observed here.
    tracked.catch(() => undefined);
    this.inflight = tracked;
    return tracked;
  }
}
