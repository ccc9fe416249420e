import type { AddressInfo } from 'node:net';
import type { SourceContext } from '@oma/core';
import type { SyslogBatcher } from '../batcher.js';
import type { Peer } from '../encode.js';
import { SyslogMetrics, type DropReason, type Transport } from '../metrics.js';
import { DROP_EMPTY, ParsedSyslog, parseSyslog } from '../parse.js';
import { PeerCache, type FrameSink, type ListenerMetrics } from './peers.js';

/** A transport's socket as the shared listener drives it. */
export interface Listener {
  open(onError: (err: Error) => void): Promise<AddressInfo | string>;
  pause?(): void;
  resume?(): void;
  /** False while `pause` cannot stop the socket's reads (UDP over node:dgram): then an overloaded source drops. */
  readonly pausable?: boolean;
  close(): Promise<void>;
  /** TCP: connections open now. */
  readonly connections?: number;
}

/** A syslog source listening on a shared listener: what the listener hands frames and events to. */
export interface Subscriber {
  readonly ctx: SourceContext;
  readonly metrics: SyslogMetrics;
  readonly batcher: SyslogBatcher;
  /** True while so many full batches wait that this source drops UDP datagrams (queue_full). */
  overloaded(): boolean;
  /** The listener failed after it was open, or this source's encoding threw: the source restarts. */
  fail(err: unknown): void;
}

/** What `SyslogListeners.subscribe` opens when nobody listens at the address yet. */
export interface ListenerSpec {
  readonly transport: Transport;
  /** `host:port` or the socket path, as configured (port 0: a listener of its own, never shared). */
  readonly address: string;
  readonly shareable: boolean;
  /** Makes the listener, given the sink and listener-level metrics it reports to. */
  create(sink: FrameSink, metrics: ListenerMetrics): Listener;
  /** The address to share the listener under once bound (port 0 resolved), as `address` is written. */
  boundAddress(bound: AddressInfo | string): string;
}

/** One source's hold on a shared listener. */
export interface Subscription {
  /** Where the listener is bound. */
  readonly bound: AddressInfo | string;
  /** This source holds batches (true) or no more (false): the listener pauses while any source holds. */
  setPaused(paused: boolean): void;
  /** Leaves the listener; the last one to leave closes it. */
  close(): Promise<void>;
}

/**
 * One socket (a UDP port, a TCP port or a unix socket path) and the sources listening on it. Each frame
 * is parsed once; then each source applies its own facility and level filter and encodes the record
 * into its own batches, so a message two sources both collect is stored twice (as two data sources of
 * a DCR would store it in Azure). Listener-level counts (frames received, truncations, framing errors,
 * connections, kernel drops) go to every source listening, each source's metrics describing its socket.
 */
class SharedListener implements FrameSink, ListenerMetrics {
  readonly subs = new Set<Subscriber>();
  private readonly held = new Set<Subscriber>();
  private readonly parsed = new ParsedSyslog();
  private readonly t: number;
  private readonly peers: PeerCache;
  private readonly udp: boolean;
  listener: Listener | undefined;
  bound: AddressInfo | string = '';
  /** Under which addresses the registry holds this listener. */
  readonly keys: string[] = [];
  dead = false;

  constructor(
    readonly spec: ListenerSpec,
    first: Subscriber,
  ) {
    this.t = SyslogMetrics.transport(spec.transport);
    this.udp = spec.transport === 'udp';
    this.peers = new PeerCache(first.ctx.host.computer);
  }

  // FrameSink: the transport's frames and frame-level events.
  received(bytes: number): void {
    for (const s of this.subs) s.metrics.received(this.t, bytes);
  }

  dropped(reason: DropReason): void {
    for (const s of this.subs) s.metrics.dropped(reason);
  }

  peer(address: string): Peer {
    return this.peers.get(address);
  }

  /** UDP drops a datagram before parsing only when every source listening is overloaded. */
  overloaded(): boolean {
    for (const s of this.subs) if (!s.overloaded()) return false;
    return this.subs.size > 0;
  }

  frame(buf: Buffer, start: number, end: number, peer: Peer): void {
    const first = this.subs.values().next().value;
    if (first === undefined) return;
    const now = first.ctx.clock.now();
    const m = this.parsed;
    const r = parseSyslog(buf, start, end, now, m);
    if (r < 0) {
      this.dropped(r === DROP_EMPTY ? 'empty' : 'binary');
      return;
    }
    for (const s of this.subs) {
      if (this.udp && this.listener?.pausable !== true && s.overloaded()) {
        s.metrics.dropped('queue_full');
        continue;
      }
      // Runs in socket event handlers, where nothing may throw: a failure restarts that source.
      try {
        s.batcher.addParsed(buf, start, end, m, r, now, peer);
      } catch (err) {
        s.fail(err);
      }
    }
  }

  // ListenerMetrics: connection and kernel events, to every source listening.
  connectionOpened(): void {
    for (const s of this.subs) s.metrics.connectionOpened();
  }
  connectionClosed(): void {
    for (const s of this.subs) s.metrics.connectionClosed();
  }
  refused(): void {
    for (const s of this.subs) s.metrics.refused();
  }
  idleClosed(): void {
    for (const s of this.subs) s.metrics.idleClosed();
  }
  kernelDrops(n: number): void {
    for (const s of this.subs) s.metrics.kernelDrops(n);
  }

  setPaused(sub: Subscriber, paused: boolean): void {
    const wasHeld = this.held.size > 0;
    if (paused) this.held.add(sub);
    else this.held.delete(sub);
    const isHeld = this.held.size > 0;
    if (isHeld === wasHeld) return;
    if (isHeld) this.listener?.pause?.();
    else this.listener?.resume?.();
  }

  /** A source leaves: it no longer holds the listener paused. */
  leave(sub: Subscriber): void {
    this.setPaused(sub, false);
    this.subs.delete(sub);
  }
}

/**
 * The syslog listeners of one agent, by address: sources whose transports name the same address share
 * one listener, opened by the first and closed when the last one stops (refcounted).
 */
export class SyslogListeners {
  private readonly byAddress = new Map<string, Promise<SharedListener>>();
  /** Whether the UDP fallback to node:dgram has been logged (once per agent). */
  fallbackLogged = false;

  /** Number of listeners open (for tests and diagnostics). */
  get size(): number {
    return new Set(this.byAddress.values()).size;
  }

  async subscribe(spec: ListenerSpec, sub: Subscriber): Promise<Subscription> {
    const key = `${spec.transport}:${spec.address}`;
    let pending = spec.shareable ? this.byAddress.get(key) : undefined;
    if (pending === undefined) {
      pending = this.open(spec, sub, spec.shareable ? key : undefined);
    } else {
      const shared = await pending;
      if (shared.dead) return this.subscribe(spec, sub);
      this.join(shared, sub);
    }
    const shared = await pending;
    return {
      bound: shared.bound,
      setPaused: (paused) => shared.setPaused(sub, paused),
      close: () => this.leave(shared, sub),
    };
  }

  private join(shared: SharedListener, sub: Subscriber): void {
    shared.subs.add(sub);
    const open = shared.listener?.connections ?? 0;
    if (open > 0) sub.metrics.adoptConnections(open);
    sub.ctx.log.info({ transport: shared.spec.transport, address: shared.spec.address, sources: shared.subs.size }, 'syslog listener shared');
  }

  private open(spec: ListenerSpec, sub: Subscriber, key: string | undefined): Promise<SharedListener> {
    const shared = new SharedListener(spec, sub);
    shared.subs.add(sub);
    const self: { opening?: Promise<SharedListener> } = {};
    const opening = (self.opening = (async () => {
      const listener = spec.create(shared, shared);
      shared.listener = listener;
      try {
        shared.bound = await listener.open((err) => this.failed(shared, err));
      } catch (err) {
        shared.dead = true;
        if (key !== undefined) this.byAddress.delete(key);
        await listener.close().catch(() => undefined);
        throw err;
      }
      const boundKey = `${spec.transport}:${spec.boundAddress(shared.bound)}`;
      for (const k of new Set([key, boundKey])) {
        if (k === undefined) continue;
        shared.keys.push(k);
        this.byAddress.set(k, self.opening!);
      }
      return shared;
    })());
    if (key !== undefined) this.byAddress.set(key, opening);
    return opening;
  }

  /** The socket failed after it was open: it is forgotten and closed, and every source on it restarts. */
  private failed(shared: SharedListener, err: Error): void {
    if (shared.dead) return;
    this.forget(shared);
    void shared.listener?.close().catch(() => undefined);
    for (const s of [...shared.subs]) s.fail(err);
  }

  private forget(shared: SharedListener): void {
    shared.dead = true;
    for (const k of shared.keys) this.byAddress.delete(k);
  }

  private async leave(shared: SharedListener, sub: Subscriber): Promise<void> {
    if (!shared.subs.has(sub)) return;
    if (shared.subs.size > 1) {
      shared.leave(sub);
      // The connections stay open for the others: none is open for this source any more.
      sub.metrics.adoptConnections(-(shared.listener?.connections ?? 0));
      return;
    }
    // The last source: the socket closes while it still listens, so that what closing delivers (a last
    // line without LF) reaches it.
    this.forget(shared);
    try {
      await shared.listener?.close();
    } finally {
      shared.leave(sub);
    }
  }
}
