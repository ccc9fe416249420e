import type { Dispatcher } from 'undici';
import { createDispatcher, type TlsClientOptions } from './dispatcher.js';
import type { Egress } from './egress.js';

export interface RequestDispatcherOptions {
  /** Connections (hence concurrent requests) to the origin; default 1. */
  readonly connections?: number;
  /** Time one request may take: the header and body timeouts of the connections. */
  readonly requestTimeoutMs: number;
  /** Time to establish a connection (default that of `createDispatcher`). */
  readonly connectTimeoutMs?: number;
  readonly tls?: TlsClientOptions;
  /** Proxy and TLS settings (direct, TLS 1.2 minimum when absent). */
  readonly egress?: Egress;
}

/** `createDispatcher` for a client whose requests each have one timeout (headers and body alike). */
export function requestDispatcher(origin: string | URL, opts: RequestDispatcherOptions): Dispatcher {
  return createDispatcher(origin, {
    connections: opts.connections ?? 1,
    headersTimeoutMs: opts.requestTimeoutMs,
    bodyTimeoutMs: opts.requestTimeoutMs,
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.egress ? { egress: opts.egress } : {}),
  });
}

/**
 * The dispatcher of a client that may go long without sending (a token endpoint while the token is
 * cached): made on first use, destroyed by `close` (and made again if used after).
 */
export class LazyDispatcher {
  private dispatcher: Dispatcher | undefined;

  constructor(
    private readonly origin: string | URL,
    private readonly opts: RequestDispatcherOptions,
  ) {}

  get(): Dispatcher {
    this.dispatcher ??= requestDispatcher(this.origin, this.opts);
    return this.dispatcher;
  }

  async close(): Promise<void> {
    const d = this.dispatcher;
    this.dispatcher = undefined;
    if (d) await d.destroy();
  }
}
