export type Jitter =
  /** A uniformly random delay in [0, d]: spreads clients best, may retry almost at once. */
  | 'full'
  /** A uniformly random delay in [d/2, d]: never less than half the exponential delay. */
  | 'equal';

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  readonly initialDelayMs: number;
  /** Upper bound of any delay. */
  readonly maxDelayMs: number;
  readonly jitter?: Jitter;
}

/** The capped exponential delay before jitter: min(max, initial × 2^(attempt-1)), attempt counting from 1. */
export function exponentialDelayMs(attempt: number, opts: BackoffOptions): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2^n overflows to Infinity long before it matters; Math.min caps it.
  const d = opts.initialDelayMs * 2 ** Math.min(n - 1, 1023);
  return Math.min(opts.maxDelayMs, d);
}

/**
 * Delay before retry number `attempt` (1 = first retry): capped exponential backoff with jitter
 * (`equal` unless told otherwise). `random` returns a number in [0, 1), injectable for tests.
 */
export function backoffWithJitterMs(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const d = exponentialDelayMs(attempt, opts);
  const r = Math.min(Math.max(random(), 0), 1);
  const ms = (opts.jitter ?? 'equal') === 'full' ? d * r : d / 2 + (d / 2) * r;
  return Math.round(ms);
}
