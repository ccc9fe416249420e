import { makePeer, type Peer } from '../encode.js';
import type { DropReason } from '../metrics.js';

/** The listener-level events a transport reports besides frames (TCP connections, kernel drops). */
export interface ListenerMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  refused(): void;
  idleClosed(): void;
  kernelDrops(n: number): void;
}

/** What a transport hands its frames to. */
export interface FrameSink {
  /** Counts a frame of `bytes` received. */
  received(bytes: number): void;
  frame(buf: Buffer, start: number, end: number, peer: Peer): void;
  dropped(reason: DropReason): void;
  /** The peer of an address (cached). */
  peer(address: string): Peer;
  /** True while so many full batches wait that a transport that cannot pause must drop. */
  overloaded(): boolean;
}

const MAX_PEERS = 4096;

/**
 * Peers by address, each encoded once. HostName falls back to the sender's address, or to this host's
 * name for loopback senders and the unix socket (messages from local programs).
 */
export class PeerCache {
  private readonly peers = new Map<string, Peer>();
  readonly local: Peer;

  constructor(private readonly computer: string) {
    // The OMS agent's HostIP for messages from the local syslog daemon.
    this.local = makePeer('127.0.0.1', computer);
  }

  get(address: string): Peer {
    let p = this.peers.get(address);
    if (p === undefined) {
      if (this.peers.size >= MAX_PEERS) this.peers.clear();
      const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
      const loopback = v4.startsWith('127.') || v4 === '::1';
      p = makePeer(v4, loopback ? this.computer : v4);
      this.peers.set(address, p);
    }
    return p;
  }
}
