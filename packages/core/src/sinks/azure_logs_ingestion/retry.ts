import type { HeaderBag } from '../../http/retry-after.js';
import { classifyCommonStatus, type RetryCause } from '../shared/retry.js';

/** The retry causes of the Logs Ingestion API. */
export type LogsIngestionRetryCause = Exclude<RetryCause, 'configuration'>;

export type ResponseClass =
  | { readonly kind: 'delivered' }
  /** 413: the body is too large; split it. */
  | { readonly kind: 'too_large' }
  /** 401: refresh the token. */
  | { readonly kind: 'unauthorized' }
  /** 400 and other 4xx: the records will never be accepted as they are. */
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'retry'; readonly cause: LogsIngestionRetryCause; readonly retryAfterMs?: number };

/** What a Logs Ingestion API status means (docs/protocol-notes.md#ingestion-status, #retry). */
export function classifyStatus(status: number, headers: HeaderBag, nowMs: number): ResponseClass {
  if (status >= 200 && status <= 299) return { kind: 'delivered' };
  if (status === 413) return { kind: 'too_large' };
  if (status === 401) return { kind: 'unauthorized' };
  if (status === 403) return { kind: 'retry', cause: 'forbidden' };
  if (status === 404) return { kind: 'retry', cause: 'not_found' };
  return classifyCommonStatus(status, headers, nowMs);
}
