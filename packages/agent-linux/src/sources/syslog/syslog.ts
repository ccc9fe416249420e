import type { AddressInfo } from 'node:net';
import { errorType, type Source, type SourceContext, type UnixDatagramBinding } from '@oma/core';
import { SyslogBatcher } from './batcher.js';
import type { SyslogConfig } from './config.js';
import type { Peer } from './encode.js';
import { SyslogListenError } from './errors.js';
import { SyslogMetrics, type DropReason, type Transport } from './metrics.js';
import { PeerCache, type FrameSink } from './transports/peers.js';
import { TcpListener } from './transports/tcp.js';
import { UdpListener } from './transports/udp.js';
import { UnixListener } from './transports/unix.js';

/** What the syslog source gets from its platform. */
export interface SyslogDeps {
  /** The unix datagram binding, asked for only when the `unix` transport is configured. */
  readonly unixDatagram: () => UnixDatagramBinding;
}

/** Where the source listens once started (port 0 in the config: the port the OS chose). */
export interface SyslogAddresses {
  readonly udp?: AddressInfo;
  readonly tcp?: AddressInfo;
  readonly unix?: string;
}

/**
 * The `syslog` source: receives syslog messages on UDP, TCP and a unix datagram socket, parses them
 * (RFC 5424, RFC 3164 and its variants; anything else as an unparsed row) and emits Syslog records
 * encoded once, from the received bytes. There is no upstream acknowledgement: docs/syslog.md says where
 * messages can be lost and how each loss is counted.
 */
export class SyslogSource implements Source {
  private readonly abort = new AbortController();
  private readonly metrics: SyslogMetrics;
  private readonly batcher: SyslogBatcher;
  private readonly peers: PeerCache;
  private udp: UdpListener | undefined;
  private tcp: TcpListener | undefined;
  private unix: UnixListener | undefined;
  private bound: SyslogAddresses = {};

  constructor(
    private readonly config: SyslogConfig,
    private readonly ctx: SourceContext,
    private readonly deps: SyslogDeps,
  ) {
    this.metrics = new SyslogMetrics(ctx);
    this.peers = new PeerCache(ctx.host.computer);
    this.batcher = new SyslogBatcher(config, ctx, this.metrics, this.abort.signal, (paused) => this.setPaused(paused));
  }

  /** The addresses bound by `start`. */
  get addresses(): SyslogAddresses {
    return this.bound;
  }

  private sinkFor(transport: Transport): FrameSink {
    const t = SyslogMetrics.transport(transport);
    const { metrics, batcher, peers, config } = this;
    return {
      received: (bytes: number) => metrics.received(t, bytes),
      frame: (buf: Buffer, start: number, end: number, peer: Peer) => {
        // Runs in socket event handlers, where nothing may throw: a failure restarts the source.
        try {
          batcher.add(buf, start, end, peer);
        } catch (err) {
          this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'receive' });
          this.ctx.fail(err);
        }
      },
      dropped: (reason: DropReason) => metrics.dropped(reason),
      peer: (address: string) => peers.get(address),
      overloaded: () => batcher.queued >= config.maxQueuedBatches,
    };
  }

  async start(): Promise<void> {
    const { config, ctx } = this;
    const onError = (err: Error): void => {
      // A socket failed after it was open: the pipeline restarts the source.
      ctx.metrics.errors.inc({ ...ctx.labels, error_type: errorType(err), stage: 'receive' });
      ctx.fail(err);
    };
    try {
      if (config.udp) {
        const udp = (this.udp = new UdpListener(config.udp, config.maxMessageBytes, this.sinkFor('udp')));
        const a = await listen('udp', `${config.udp.host}:${config.udp.port}`, () => udp.open(onError));
        this.bound = { ...this.bound, udp: a };
        ctx.log.info({ transport: 'udp', endpoint: `${a.address}:${a.port}` }, 'syslog listening');
      }
      if (config.tcp) {
        const tcp = (this.tcp = new TcpListener(config.tcp, config.maxMessageBytes, this.sinkFor('tcp'), this.metrics));
        const a = await listen('tcp', `${config.tcp.host}:${config.tcp.port}`, () => tcp.open(onError));
        this.bound = { ...this.bound, tcp: a };
        ctx.log.info({ transport: 'tcp', endpoint: `${a.address}:${a.port}` }, 'syslog listening');
      }
      if (config.unix) {
        const binding = this.deps.unixDatagram();
        const unix = (this.unix = new UnixListener(config.unix, config.maxMessageBytes, binding, this.sinkFor('unix'), this.metrics));
        const path = await listen('unix', config.unix.path, () => unix.open(onError));
        this.bound = { ...this.bound, unix: path };
        ctx.log.info({ transport: 'unix', path }, 'syslog listening');
      }
    } catch (err) {
      await this.closeTransports();
      this.metrics.close();
      throw err;
    }
  }

  private setPaused(paused: boolean): void {
    if (paused) {
      this.tcp?.pause();
      this.unix?.pause();
    } else {
      this.tcp?.resume();
      this.unix?.resume();
    }
  }

  private async closeTransports(): Promise<void> {
    const closing: Array<Promise<void>> = [];
    for (const t of [this.udp, this.tcp, this.unix]) if (t) closing.push(t.close());
    this.udp = this.tcp = this.unix = undefined;
    await Promise.all(closing);
  }

  /**
   * Stops receiving (connections are closed; a last line without LF is still a message), then hands
   * what is batched to the pipeline until `signal` aborts.
   */
  async stop(signal: AbortSignal): Promise<void> {
    await this.closeTransports();
    const onAbort = (): void => this.abort.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.batcher.drain();
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.batcher.close();
      this.metrics.close();
    }
  }
}

async function listen<T>(transport: string, address: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'OMA_ERR_NATIVE_LOAD') throw cause;
    throw new SyslogListenError(transport, address, { cause });
  }
}
