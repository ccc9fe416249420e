import type { HeaderBag } from '../../http/retry-after.js';
import { classifyCommonStatus, type RetryCause } from '../shared/retry.js';

/**
 * The retry causes of the HTTP Data Collector API: `forbidden` is 401/403 (a wrong workspace id or key, or
 * a skewed clock), `not_found` a 404 for a single record, `configuration` a 400 whose code is about the
 * request rather than the records (InvalidCustomerId, InactiveCustomer, …) or a 407.
 */
export type DataCollectorRetryCause = Exclude<RetryCause, 'auth' | 'unauthorized'>;

/** 400 codes that mean the request itself (workspace, headers) is wrong: the records are kept and retried slowly. */
export const CONFIGURATION_ERROR_CODES: ReadonlySet<string> = new Set([
  'InvalidCustomerId',
  'InactiveCustomer',
  'InvalidApiVersion',
  'MissingApiVersion',
  'MissingLogType',
  'MissingContentType',
  'UnsupportedContentType',
]);

export type DataCollectorResponseClass =
  | { readonly kind: 'delivered' }
  /** 413: the body is too large; split it. */
  | { readonly kind: 'too_large' }
  /** 404: "bad URL or request too large" (docs/protocol-notes.md#data-collector-responses): split, or retry when a single record. */
  | { readonly kind: 'not_found' }
  /** 400 about the records and other 4xx: they will never be accepted as they are. */
  | { readonly kind: 'rejected'; readonly reason: string; readonly code?: string }
  | { readonly kind: 'retry'; readonly cause: DataCollectorRetryCause; readonly retryAfterMs?: number; readonly code?: string };

export interface DataCollectorError {
  readonly code?: string;
  readonly message?: string;
}

/**
 * The service's error body, `{"Error":"InvalidAuthorization","Message":"…"}`; the Azure-style
 * `{"error":{"code","message"}}` is read too. Empty when the body is neither.
 */
export function parseDataCollectorError(body: string | undefined): DataCollectorError {
  if (body === undefined || body === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const o = parsed as Record<string, unknown>;
  const nested = typeof o.error === 'object' && o.error !== null ? (o.error as Record<string, unknown>) : undefined;
  const code = typeof o.Error === 'string' ? o.Error : typeof nested?.code === 'string' ? nested.code : undefined;
  const message = typeof o.Message === 'string' ? o.Message : typeof nested?.message === 'string' ? nested.message : undefined;
  return { ...(code !== undefined ? { code: code.slice(0, 100) } : {}), ...(message !== undefined ? { message } : {}) };
}

/** What an HTTP Data Collector API status means (docs/protocol-notes.md#data-collector-responses). */
export function classifyDataCollectorStatus(status: number, headers: HeaderBag, body: string, nowMs: number): DataCollectorResponseClass {
  if (status >= 200 && status <= 299) return { kind: 'delivered' };
  if (status === 413) return { kind: 'too_large' };
  if (status === 404) return { kind: 'not_found' };
  if (status === 400) {
    const { code } = parseDataCollectorError(body);
    if (code !== undefined && CONFIGURATION_ERROR_CODES.has(code)) return { kind: 'retry', cause: 'configuration', code };
    return { kind: 'rejected', reason: 'rejected_400', ...(code !== undefined ? { code } : {}) };
  }
  if (status === 401 || status === 403) {
    const { code } = parseDataCollectorError(body);
    return { kind: 'retry', cause: 'forbidden', ...(code !== undefined ? { code } : {}) };
  }
  if (status === 407) return { kind: 'retry', cause: 'configuration' };
  return classifyCommonStatus(status, headers, nowMs);
}
