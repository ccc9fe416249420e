import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { SyslogConfig } from '../config.js';
import type { FrameSink, ListenerMetrics } from './peers.js';
import { TcpFramer } from './tcp-framer.js';

type TcpConfig = NonNullable<SyslogConfig['tcp']>;

/**
 * Receives syslog over TCP: framing detected per connection (tcp-framer.ts), at most `maxConnections`
 * open (Node refuses the others; counted), closed after `idleTimeoutMs` without data. `pause()` stops
 * reading every connection (new ones start paused): the kernel's buffers fill and senders block.
 */
export class TcpListener {
  private server: Server | undefined;
  /** Open connections and their framers. */
  private readonly sockets = new Map<Socket, TcpFramer>();
  private paused = false;

  constructor(
    private readonly config: TcpConfig,
    private readonly maxMessageBytes: number,
    private readonly sink: FrameSink,
    private readonly metrics: ListenerMetrics,
  ) {}

  async open(onError: (err: Error) => void): Promise<AddressInfo> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.maxConnections = this.config.maxConnections;
    server.on('drop', () => this.metrics.refused());
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.config.port, host: this.config.host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', onError);
    return server.address() as AddressInfo;
  }

  private accept(socket: Socket): void {
    const sink = this.sink;
    this.metrics.connectionOpened();
    const peer = sink.peer(socket.remoteAddress ?? 'unknown');
    const framer = new TcpFramer(this.maxMessageBytes, {
      frame: (buf, start, end) => {
        sink.received(end - start);
        sink.frame(buf, start, end, peer);
      },
      truncated: () => sink.dropped('message_truncated'),
      framingError: () => sink.dropped('framing_error'),
      incomplete: () => sink.dropped('frame_incomplete'),
    });
    this.sockets.set(socket, framer);
    if (this.config.idleTimeoutMs > 0) socket.setTimeout(this.config.idleTimeoutMs);
    socket.on('timeout', () => {
      this.metrics.idleClosed();
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    // A reset or a write error: the connection is gone; what it framed is kept.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      // Not when close() took the connection down already.
      if (!this.sockets.delete(socket)) return;
      framer.finish();
      this.metrics.connectionClosed();
    });
    if (this.paused) socket.pause();
  }

  /** Connections open now. */
  get connections(): number {
    return this.sockets.size;
  }

  pause(): void {
    this.paused = true;
    for (const s of this.sockets.keys()) s.pause();
  }

  resume(): void {
    this.paused = false;
    for (const s of this.sockets.keys()) s.resume();
  }

  /** Stops listening and closes every connection (a last line without LF still counts as a message). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    // What each connection has framed so far counts now, while the sources still listen (a last line
    // without LF is a message), and so does its end.
    for (const [s, framer] of [...this.sockets]) {
      this.sockets.delete(s);
      framer.finish();
      s.destroy();
      this.metrics.connectionClosed();
    }
    await closed;
  }
}
