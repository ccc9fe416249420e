import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';
import { DRAIN_CAP_BYTES } from './exchange.js';

export type BodyResult =
  | { readonly kind: 'ok'; readonly body: Buffer; readonly bytes: number }
  /** `complete`: the whole body was drained (and `bytes` is its size); else reading stopped at the drain cap. */
  | { readonly kind: 'too-large'; readonly bytes: number; readonly complete: boolean };

/** The client went away (or the stream failed) before the body was complete. */
export class RequestAbortedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('request aborted before its body was complete', options);
    this.name = 'RequestAbortedError';
  }
}

/**
 * Reads a request body, keeping at most `limit` bytes in memory. Past the limit it keeps counting (and
 * discarding) up to `drainCapBytes` so the size can be reported and the connection reused; past that it
 * stops. Rejects with RequestAbortedError when the client aborts.
 */
export function readBody(req: IncomingMessage, limit: number, drainCapBytes = DRAIN_CAP_BYTES): Promise<BodyResult> {
  // The client may have gone while the handler awaited something (a token check): 'close' has fired already.
  if (req.destroyed && !req.readableEnded) return Promise.reject(new RequestAbortedError());
  return new Promise<BodyResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let over = false;
    let settled = false;
    const finish = (result: BodyResult | Error): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (over) {
        if (bytes > drainCapBytes) {
          req.pause();
          finish({ kind: 'too-large', bytes, complete: false });
        }
        return;
      }
      if (bytes > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(over ? { kind: 'too-large', bytes, complete: true } : { kind: 'ok', body: Buffer.concat(chunks, bytes), bytes });
    const onError = (err: Error): void => finish(new RequestAbortedError({ cause: err }));
    const onClose = (): void => {
      if (!req.readableEnded) finish(new RequestAbortedError());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export type InflateResult =
  | { readonly kind: 'ok'; readonly body: Buffer }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'malformed'; readonly message: string };

/** Inflates a gzip body, stopping as soon as the output would exceed `limit` bytes (a gzip bomb costs nothing). */
export function gunzipLimited(data: Buffer, limit: number): Promise<InflateResult> {
  return new Promise<InflateResult>((resolve) => {
    gunzip(data, { maxOutputLength: limit }, (err, out) => {
      if (!err) resolve({ kind: 'ok', body: out });
      else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) resolve({ kind: 'too-large' });
      else resolve({ kind: 'malformed', message: err.message });
    });
  });
}
