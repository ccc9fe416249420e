import { backoffWithJitterMs, type BackoffOptions } from '../../http/backoff.js';
import { isRetryableStatus, isThrottlingStatus } from '../../http/classify.js';
import { retryAfterMs, type HeaderBag } from '../../http/retry-after.js';

/** Why a request is retried; picks the delay rule and the log line. Each sink uses the causes its API has. */
export type RetryCause =
  /** 429, or 503 with a retry-after header: wait what the service asked for. */
  | 'throttled'
  /** 408, 5xx: capped exponential backoff. */
  | 'transient'
  /** No response: connection refused or reset, DNS failure, timeout. */
  | 'network'
  /** No token: the token endpoint failed or is unreachable. */
  | 'auth'
  /** 401 again right after a fresh token. */
  | 'unauthorized'
  /** 403: the identity lacks the role, or the key is wrong (or the clock skewed). */
  | 'forbidden'
  /** 404: wrong rule, stream, workspace or endpoint. */
  | 'not_found'
  /** The service refuses the request itself, whatever its records (a wrong workspace id, a proxy asking for credentials). */
  | 'configuration'
  /** Any other status the service should not send (1xx, 3xx, 501, 505): a configuration problem. */
  | 'unexpected';

/** What a status that an API gives no meaning of its own means. */
export type CommonStatusClass =
  /** The records will never be accepted as they are. */
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'retry'; readonly cause: 'throttled' | 'transient' | 'unexpected'; readonly retryAfterMs?: number };

/**
 * The statuses the Azure APIs answer alike: 429 (and 503) throttle, for the Retry-After asked if any;
 * 408 and 5xx are transient; another 4xx rejects the records (`rejected_<status>`); anything else (1xx, 3xx,
 * 501, 505) is unexpected. Each API classifies its own statuses first.
 */
export function classifyCommonStatus(status: number, headers: HeaderBag, nowMs: number): CommonStatusClass {
  if (isThrottlingStatus(status)) {
    const after = retryAfterMs(headers, nowMs);
    if (after !== undefined) return { kind: 'retry', cause: 'throttled', retryAfterMs: after };
    return { kind: 'retry', cause: 'transient' };
  }
  if (isRetryableStatus(status)) return { kind: 'retry', cause: 'transient' };
  if (status >= 400 && status <= 499) return { kind: 'rejected', reason: `rejected_${status}` };
  return { kind: 'retry', cause: 'unexpected' };
}

/** Causes that need a person (a role, a name, a key, an endpoint): retried slowly, logged at error level. */
export function isConfigurationCause(cause: RetryCause): boolean {
  return cause === 'forbidden' || cause === 'not_found' || cause === 'configuration' || cause === 'unexpected';
}

/** The least delay for configuration causes (capped by `maxDelayMs`): a fix takes minutes, not seconds. */
export const CONFIGURATION_RETRY_FLOOR_MS = 60_000;

/** Longest server-requested delay honoured (a bogus Retry-After must not park a destination for days). */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Delay before the next attempt. `attempt` counts consecutive failures from 1. A server-requested delay
 * (`retryAfterMs`) is a floor: the request is never sent earlier.
 */
export function retryDelayMs(
  cause: RetryCause,
  attempt: number,
  policy: BackoffOptions,
  retryAfter?: number,
  random: () => number = Math.random,
): number {
  const backoff = backoffWithJitterMs(attempt, policy, random);
  const floor = retryAfter === undefined ? 0 : Math.min(Math.max(0, retryAfter), MAX_RETRY_AFTER_MS);
  if (cause === 'throttled') return retryAfter === undefined ? backoff : floor;
  if (isConfigurationCause(cause)) return Math.max(floor, Math.min(policy.maxDelayMs, Math.max(CONFIGURATION_RETRY_FLOOR_MS, backoff)));
  return Math.max(floor, backoff);
}
