import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Past this many unread body bytes after an early answer, the connection is closed instead of drained. */
export const DRAIN_CAP_BYTES = 8 * 1024 * 1024;

/**
 * Reads and discards what is left of a request body so that the connection can serve the next request;
 * past `capBytes` the socket is destroyed. Does nothing when the body was read or is being read.
 */
export function discardBody(req: IncomingMessage, capBytes = DRAIN_CAP_BYTES): void {
  if (req.readableEnded || req.destroyed || req.listenerCount('data') > 0) return;
  let n = 0;
  req.on('data', (chunk: Buffer) => {
    n += chunk.length;
    if (n > capBytes) req.socket.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

function declaredLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** One request and its response, with helpers that answer safely (never twice, never on a dead socket). */
export class Exchange {
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly url: URL,
  ) {}

  /** True when an answer can still be written. */
  get writable(): boolean {
    return !this.res.headersSent && !this.res.destroyed && !this.res.writableEnded;
  }

  /** Marks the connection to be closed after the answer (used when a body is left unread). */
  closeAfterResponse(): void {
    if (!this.res.headersSent) this.res.setHeader('connection', 'close');
  }

  #prepare(): boolean {
    if (!this.writable) return false;
    if (!this.req.readableEnded) {
      const declared = declaredLength(this.req);
      if (declared !== undefined && declared > DRAIN_CAP_BYTES) this.closeAfterResponse();
      discardBody(this.req);
    }
    return true;
  }

  send(status: number, body: string | Buffer | undefined, headers: OutgoingHttpHeaders = {}): void {
    if (!this.#prepare()) return;
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    this.res.writeHead(status, { ...headers, 'content-length': payload?.length ?? 0 });
    this.res.end(payload);
  }

  json(status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
    this.send(status, JSON.stringify(value), { 'content-type': 'application/json; charset=utf-8', ...headers });
  }

  /** An Azure-style error body: `{"error":{"code","message"}}`. */
  azureError(status: number, code: string, message: string, headers: OutgoingHttpHeaders = {}, details?: unknown[]): void {
    this.json(status, { error: details ? { code, message, details } : { code, message } }, headers);
  }

  empty(status: number, headers: OutgoingHttpHeaders = {}): void {
    this.send(status, undefined, headers);
  }
}
