/**
 * UDP sockets drained in batches (many datagrams per crossing), with the sender's address per
 * datagram. On Linux the real binding is the `unixdgram` addon's recvmmsg path (agent-linux);
 * `@oma/core/testing` has a pure-TS fake, and both pass the same contract suite.
 */

import type { DatagramBatch } from './unix-datagram.js';

/** Bytes per datagram in a batch's sender-address array (see `datagramAddress`). */
export const UDP_NAME_BYTES = 20;

export interface UdpDatagramOptions {
  /** IPv4 or IPv6 address literal to bind, e.g. 127.0.0.1 or ::. */
  readonly host: string;
  /** Port to bind; 0 picks a free one (the socket's `port` says which). */
  readonly port: number;
  /** SO_RCVBUF in bytes (the kernel doubles it and caps it at net.core.rmem_max). */
  readonly receiveBufferBytes?: number;
  /** Largest datagram kept whole; longer ones arrive cut to this size, flagged in `truncated`. */
  readonly maxDatagramBytes: number;
  /** Datagrams drained per batch at most (one `recvmmsg` call fills up to this many). */
  readonly batchSize: number;
}

/** A batch of UDP datagrams: the unix batch's slab views, and who sent each datagram. */
export interface UdpDatagramBatch extends DatagramBatch {
  /** The sender's address of datagram i as text (`192.0.2.7`, `2001:db8::1`; IPv4-mapped IPv6 as IPv4). */
  address(i: number): string;
  /** The sender's port of datagram i. */
  port(i: number): number;
}

export interface UdpDatagramSocket {
  /** The bound address. */
  readonly host: string;
  /** The bound port (the one the OS chose when `port` was 0). */
  readonly port: number;
  /**
   * Delivers datagrams as they arrive, many per call, on the JS thread. The batch is valid only during
   * the call. `onError` gets a failure of the socket after it was opened (the socket is closed then).
   */
  start(onBatch: (batch: UdpDatagramBatch) => void, onError: (err: Error) => void): void;
  /** Stops reading: datagrams wait in the kernel's receive buffer, and what overflows it is dropped. */
  pause(): void;
  resume(): void;
  /** Datagrams the kernel dropped on a full receive buffer (SO_RXQ_OVFL) since open, as of the last datagram read. */
  kernelDrops(): number;
  /** Stops reading and closes the socket. */
  close(): Promise<void>;
}

/** Opens UDP sockets: the port a platform binds (agent-linux: the `unixdgram` addon). */
export interface UdpDatagramBinding {
  /** Binds `opts.host:opts.port`; rejects with a clear error (EADDRINUSE, EACCES, an address that is not a literal). */
  open(opts: UdpDatagramOptions): Promise<UdpDatagramSocket>;
}

/**
 * The text of an address in `names` (20 bytes per datagram, as the addon and the fake fill it: family
 * 4 or 6, 0, port big endian, then 4 or 16 address bytes) at entry `i`. IPv6 is written as RFC 5952
 * says (lower case, the longest run of zero groups as `::`); an IPv4-mapped address as plain IPv4.
 */
export function datagramAddress(names: Uint8Array, i: number): string {
  const o = i * UDP_NAME_BYTES;
  const family = names[o];
  if (family === 4) return `${names[o + 4]}.${names[o + 5]}.${names[o + 6]}.${names[o + 7]}`;
  if (family !== 6) return '';
  const a = o + 4;
  let mapped = names[a + 10] === 0xff && names[a + 11] === 0xff;
  for (let k = 0; k < 10 && mapped; k++) if (names[a + k] !== 0) mapped = false;
  if (mapped) return `${names[a + 12]}.${names[a + 13]}.${names[a + 14]}.${names[a + 15]}`;
  const groups: number[] = [];
  for (let k = 0; k < 8; k++) groups.push((names[a + 2 * k]! << 8) | names[a + 2 * k + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && groups[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}


/** The port in `names` at entry `i` (see `datagramAddress`). */
export function datagramPort(names: Uint8Array, i: number): number {
  const o = i * UDP_NAME_BYTES;
  return (names[o + 2]! << 8) | names[o + 3]!;
}
