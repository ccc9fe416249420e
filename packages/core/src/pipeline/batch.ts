import type { EncodedBatch } from '../wire/encoded-batch.js';

export type Settlement = 'delivered' | 'rejected';

/**
 * Settles a batch taken from a destination queue. A batch settles once: `delivered` after the service
 * accepted it, `rejected` when it can never be delivered (dead-lettered, counted). Either way the queue
 * then acknowledges it. A batch that is retried is not settled.
 */
export interface AckHandle {
  settle(outcome: Settlement): void;
}

/**
 * Records of one table as a sink receives them: encoded in the sink's wire format (its definition's
 * `format`), as they were queued, and tied to their queue entry.
 */
export interface Batch extends EncodedBatch {
  readonly ack: AckHandle;
}

/** Outcome of one delivery attempt, as a transport reports it. */
export type SendResult =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retry'; readonly afterMs?: number; readonly reason: string }
  | { readonly kind: 'rejected'; readonly error: Error };
