import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { errorType, type Source, type SourceContext, type UdpDatagramBinding, type UnixDatagramBinding } from '@oma/core';
import { SyslogBatcher } from './batcher.js';
import type { SyslogConfig } from './config.js';
import { SyslogListenError } from './errors.js';
import { SyslogMetrics } from './metrics.js';
import { SyslogListeners, type ListenerSpec, type Subscriber, type Subscription } from './transports/shared.js';
import { TcpListener } from './transports/tcp.js';
import { UdpListener } from './transports/udp.js';
import { UnixListener } from './transports/unix.js';

/** What the syslog source gets from its platform. */
export interface SyslogDeps {
  /** The unix datagram binding, asked for only when the `unix` transport is configured. */
  readonly unixDatagram: () => UnixDatagramBinding;
  /**
   * The UDP datagram binding (batches, the sender's address per datagram). Absent, or failing to load
   * (OMA_ERR_NATIVE_LOAD), the UDP transport uses `node:dgram`, with a warning logged once.
   */
  readonly udpDatagram?: () => UdpDatagramBinding;
  /**
   * The listeners shared by the syslog sources of one agent: sources whose transports name the same
   * address listen once. `syslogSource()` makes one per platform; a source given none has its own.
   */
  readonly listeners?: SyslogListeners;
}

/** Where the source listens once started (port 0 in the config: the port the OS chose). */
export interface SyslogAddresses {
  readonly udp?: AddressInfo;
  readonly tcp?: AddressInfo;
  readonly unix?: string;
}

function hostPort(a: AddressInfo | string): string {
  return typeof a === 'string' ? a : `${a.address}:${a.port}`;
}

/**
 * The `syslog` source: receives syslog messages on UDP, TCP and a unix datagram socket, parses them
 * (RFC 5424, RFC 3164 and its variants; anything else as an unparsed row) and emits Syslog records
 * encoded once, from the received bytes. Sources on the same address share one listener
 * (transports/shared.ts). There is no upstream acknowledgement: docs/syslog.md says where messages can
 * be lost and how each loss is counted.
 */
export class SyslogSource implements Source {
  private readonly abort = new AbortController();
  private readonly metrics: SyslogMetrics;
  private readonly batcher: SyslogBatcher;
  private readonly listeners: SyslogListeners;
  private readonly subscriber: Subscriber;
  private subscriptions: Subscription[] = [];
  private bound: SyslogAddresses = {};

  constructor(
    private readonly config: SyslogConfig,
    private readonly ctx: SourceContext,
    private readonly deps: SyslogDeps,
  ) {
    this.metrics = new SyslogMetrics(ctx);
    this.listeners = deps.listeners ?? new SyslogListeners();
    this.batcher = new SyslogBatcher(config, ctx, this.metrics, this.abort.signal, (paused) => {
      for (const s of this.subscriptions) s.setPaused(paused);
    });
    const { batcher, metrics } = this;
    this.subscriber = {
      ctx,
      metrics,
      batcher,
      overloaded: () => batcher.queued >= config.maxQueuedBatches,
      fail: (err: unknown) => {
        // A socket failed after it was open, or encoding threw: the pipeline restarts the source.
        ctx.metrics.errors.inc({ ...ctx.labels, error_type: errorType(err), stage: 'receive' });
        ctx.fail(err);
      },
    };
  }

  /** The addresses bound by `start`. */
  get addresses(): SyslogAddresses {
    return this.bound;
  }

  private async subscribe(spec: ListenerSpec): Promise<AddressInfo | string> {
    let sub: Subscription;
    try {
      sub = await this.listeners.subscribe(spec, this.subscriber);
    } catch (cause) {
      if ((cause as { code?: unknown }).code === 'OMA_ERR_NATIVE_LOAD') throw cause;
      throw new SyslogListenError(spec.transport, spec.address, { cause });
    }
    this.subscriptions.push(sub);
    return sub.bound;
  }

  async start(): Promise<void> {
    const { config, ctx, metrics } = this;
    const max = config.maxMessageBytes;
    try {
      if (config.udp) {
        const udp = config.udp;
        const a = (await this.subscribe({
          transport: 'udp',
          address: `${udp.host}:${udp.port}`,
          shareable: udp.port !== 0,
          create: (sink, m) => new UdpListener(udp, max, this.deps.udpDatagram, sink, m, (err) => this.udpFallback(err)),
          boundAddress: hostPort,
        })) as AddressInfo;
        this.bound = { ...this.bound, udp: a };
        ctx.log.info({ transport: 'udp', endpoint: hostPort(a) }, 'syslog listening');
      }
      if (config.tcp) {
        const tcp = config.tcp;
        const a = (await this.subscribe({
          transport: 'tcp',
          address: `${tcp.host}:${tcp.port}`,
          shareable: tcp.port !== 0,
          create: (sink, m) => new TcpListener(tcp, max, sink, m),
          boundAddress: hostPort,
        })) as AddressInfo;
        this.bound = { ...this.bound, tcp: a };
        ctx.log.info({ transport: 'tcp', endpoint: hostPort(a) }, 'syslog listening');
      }
      if (config.unix) {
        const unix = config.unix;
        const others = config.udp !== undefined || config.tcp !== undefined;
        const path = await this.openUnix(unix, others);
        if (path !== undefined) {
          this.bound = { ...this.bound, unix: path };
          ctx.log.info({ transport: 'unix', path }, 'syslog listening');
        }
      }
    } catch (err) {
      await this.closeTransports();
      metrics.close();
      throw err;
    }
  }

  /**
   * Opens the unix transport: creates the socket's directory when missing (under systemd, /run/oma is
   * the unit's RuntimeDirectory). When that directory cannot be created and another transport runs,
   * the unix transport logs why and stays off.
   */
  private async openUnix(unix: NonNullable<SyslogConfig['unix']>, others: boolean): Promise<string | undefined> {
    const { ctx } = this;
    const binding = this.deps.unixDatagram();
    try {
      await mkdir(dirname(unix.path), { recursive: true, mode: 0o755 });
    } catch (err) {
      if (!others) throw new SyslogListenError('unix', unix.path, { cause: err });
      ctx.log.warn({ transport: 'unix', path: unix.path, err }, 'syslog unix socket directory cannot be created; the other transports run');
      return undefined;
    }
    return (await this.subscribe({
      transport: 'unix',
      address: unix.path,
      shareable: true,
      create: (sink, m) => new UnixListener(unix, this.config.maxMessageBytes, binding, sink, m),
      boundAddress: hostPort,
    })) as string;
  }

  private udpFallback(err: unknown): void {
    if (this.listeners.fallbackLogged) return;
    this.listeners.fallbackLogged = true;
    this.ctx.log.warn({ err }, 'syslog UDP receives through node:dgram: the unixdgram addon is not available');
  }

  private async closeTransports(): Promise<void> {
    const subs = this.subscriptions;
    this.subscriptions = [];
    await Promise.all(subs.map((s) => s.close()));
  }

  /**
   * Stops receiving (leaves its listeners: the last source on a listener closes it, and a last line
   * without LF is still a message), then hands what is batched to the pipeline until `signal` aborts.
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
