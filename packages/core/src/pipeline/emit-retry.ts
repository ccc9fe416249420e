import type { EncodedBatch } from '../wire/encoded-batch.js';
import type { SourceContext } from './component.js';

/** Longest wait between two attempts to queue one batch. */
export const MAX_EMIT_BACKOFF_MS = 10_000;
const FIRST_EMIT_BACKOFF_MS = 250;

/** What `emitUntilQueued` needs of the source that hands the batch over. */
export interface EmitRetry {
  readonly ctx: Pick<SourceContext, 'emit'>;
  /** The source's stop: an aborted signal gives the batch up at once. */
  readonly signal: AbortSignal;
  /** True once the source is stopping: no attempt after the current one. */
  stopping(): boolean;
  /** The source's own wait (its stop may cut it short). */
  sleep(ms: number): Promise<void>;
  /** Each failed attempt, to count and log (rate-limited by the source). */
  failed(err: unknown, batch: EncodedBatch): void;
  /** Runs before every attempt (custom_log saves the positions of files read to their end). */
  beforeAttempt?(): Promise<void>;
}

/**
 * Hands a batch to the pipeline, retrying with a doubling backoff (250 ms up to 10 s) until the queues
 * hold it; false when the source's stop gave it up (its positions must not move past it).
 */
export async function emitUntilQueued(batch: EncodedBatch, r: EmitRetry): Promise<boolean> {
  let backoff = FIRST_EMIT_BACKOFF_MS;
  for (;;) {
    if (r.signal.aborted) return false;
    if (r.beforeAttempt) await r.beforeAttempt();
    try {
      await r.ctx.emit(batch, r.signal);
      return true;
    } catch (err) {
      if (r.signal.aborted) return false;
      r.failed(err, batch);
      if (r.stopping()) return false;
      await r.sleep(backoff);
      if (r.stopping()) return false;
      backoff = Math.min(backoff * 2, MAX_EMIT_BACKOFF_MS);
    }
  }
}
