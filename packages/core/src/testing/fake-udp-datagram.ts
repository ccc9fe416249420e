import { isIP } from 'node:net';
import { AgentError } from '../errors.js';
import { UDP_NAME_BYTES, datagramAddress, datagramPort, type UdpDatagramBatch, type UdpDatagramBinding, type UdpDatagramOptions, type UdpDatagramSocket } from '../ports/udp-datagram.js';

/** Who sent a datagram to the fake. */
export interface FakeUdpSender {
  /** IPv4 or IPv6 literal. */
  readonly address: string;
  readonly port: number;
}

export interface FakeUdpDatagramOptions {
  /** Datagrams a socket's receive buffer holds; more are dropped and counted as kernel drops (as UDP does). */
  readonly queueDatagrams?: number;
}

/** recvmmsg calls per readable event, as in the real binding. */
const MAX_BATCHES_PER_EVENT = 8;
const DEFAULT_QUEUE_DATAGRAMS = 1024;
/** Where the fake starts handing out ports for port 0. */
const FIRST_EPHEMERAL_PORT = 40_000;
const DEFAULT_SENDER: FakeUdpSender = { address: '127.0.0.1', port: 50_000 };

function fakeError(syscall: string, code: string, address: string, hint: string): AgentError {
  const cause = Object.assign(new Error(`${syscall} ${code}`), { code, syscall, path: address });
  return new AgentError('OMA_ERR_NATIVE', `${syscall} ${address}: ${code} (${hint})`, { cause });
}

/** Writes `sender` into entry `i` of an address array laid out as `datagramAddress` reads it. */
function writeName(names: Uint8Array, i: number, sender: FakeUdpSender): void {
  const o = i * UDP_NAME_BYTES;
  names.fill(0, o, o + UDP_NAME_BYTES);
  names[o + 2] = sender.port >> 8;
  names[o + 3] = sender.port & 0xff;
  if (isIP(sender.address) === 4) {
    names[o] = 4;
    sender.address.split('.').forEach((b, k) => (names[o + 4 + k] = Number(b)));
    return;
  }
  names[o] = 6;
  // A dotted IPv4 tail (::ffff:192.0.2.9) is two groups.
  const text = sender.address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const [head = '', tail] = text.split('::');
  const hs = head === '' ? [] : head.split(':');
  const ts = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  groups.forEach((g, k) => {
    const v = parseInt(g, 16);
    names[o + 4 + 2 * k] = v >> 8;
    names[o + 5 + 2 * k] = v & 0xff;
  });
}

interface Queued {
  readonly data: Buffer;
  readonly from: FakeUdpSender;
}

/** One socket of the fake. Tests reach it through `FakeUdpDatagramBinding.socket(port)`. */
export class FakeUdpDatagramSocket implements UdpDatagramSocket {
  readonly queue: Queued[] = [];
  /** Batches delivered so far. */
  batches = 0;
  private drops = 0;
  private state: 'bound' | 'started' | 'closed' = 'bound';
  private paused = false;
  private scheduled = false;
  private onBatch: ((batch: UdpDatagramBatch) => void) | undefined;
  private onError: ((err: Error) => void) | undefined;
  private slab: Omit<UdpDatagramBatch, 'count'> | undefined;
  private names: Uint8Array | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly options: UdpDatagramOptions,
    private readonly binding: FakeUdpDatagramBinding,
  ) {}

  get isPaused(): boolean {
    return this.paused;
  }
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  start(onBatch: (batch: UdpDatagramBatch) => void, onError: (err: Error) => void): void {
    if (this.state !== 'bound') throw new Error(`udp socket ${this.host}:${this.port} is ${this.state === 'closed' ? 'closed' : 'already started'}`);
    const { batchSize, maxDatagramBytes } = this.options;
    const names = (this.names = new Uint8Array(batchSize * UDP_NAME_BYTES));
    this.slab = {
      data: Buffer.alloc(batchSize * maxDatagramBytes),
      offsets: Uint32Array.from({ length: batchSize }, (_, i) => i * maxDatagramBytes),
      lengths: new Uint32Array(batchSize),
      truncated: new Uint8Array(batchSize),
      address: (i) => datagramAddress(names, i),
      port: (i) => datagramPort(names, i),
    };
    this.onBatch = onBatch;
    this.onError = onError;
    this.state = 'started';
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.schedule();
  }

  kernelDrops(): number {
    return this.drops;
  }

  close(): Promise<void> {
    this.closeNow();
    return Promise.resolve();
  }

  /** Queues datagrams as the kernel would: while the receive buffer has room, then dropped (counted). */
  enqueue(datagrams: readonly Uint8Array[], from: FakeUdpSender): number {
    const capacity = this.binding.options.queueDatagrams ?? DEFAULT_QUEUE_DATAGRAMS;
    let queued = 0;
    for (const d of datagrams) {
      if (this.queue.length >= capacity) {
        this.drops++;
        continue;
      }
      this.queue.push({ data: Buffer.from(d), from });
      queued++;
    }
    this.schedule();
    return queued;
  }

  /** Fails the socket as a broken fd would: it is closed and `onError` gets `err`. */
  fail(err: Error): void {
    const onError = this.onError;
    this.closeNow();
    onError?.(err);
  }

  private closeNow(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.queue.length = 0;
    this.binding.release(this);
  }

  private schedule(): void {
    if (this.scheduled || this.state !== 'started' || this.paused || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const slab = this.slab;
    const names = this.names;
    const onBatch = this.onBatch;
    if (slab === undefined || names === undefined || onBatch === undefined) return;
    const { batchSize, maxDatagramBytes } = this.options;
    for (let b = 0; b < MAX_BATCHES_PER_EVENT && this.state === 'started' && !this.paused && this.queue.length > 0; b++) {
      const taken = this.queue.splice(0, batchSize);
      taken.forEach((q, i) => {
        const n = Math.min(q.data.length, maxDatagramBytes);
        q.data.copy(slab.data, slab.offsets[i], 0, n);
        slab.lengths[i] = n;
        slab.truncated[i] = q.data.length > maxDatagramBytes ? 1 : 0;
        writeName(names, i, q.from);
      });
      this.batches++;
      try {
        onBatch({ ...slab, count: taken.length });
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
    this.schedule();
  }
}

/**
 * A deterministic, pure-TS UDP datagram binding: sockets bound by host and port in memory (port 0 gets
 * a free port from 40000 up). `send` injects datagrams from a chosen sender address, `failNextOpen`
 * injects a bind error, `socket(port).fail(err)` a broken socket. A full receive buffer drops and counts,
 * as UDP does. Delivery happens on a later turn of the event loop, in batches of `batchSize`.
 */
export class FakeUdpDatagramBinding implements UdpDatagramBinding {
  private readonly live = new Map<number, FakeUdpDatagramSocket>();
  private readonly openErrors: Array<{ code: string; hint: string }> = [];
  private nextPort = FIRST_EPHEMERAL_PORT;
  /** Every `open` call's options, in order. */
  readonly opened: UdpDatagramOptions[] = [];

  constructor(readonly options: FakeUdpDatagramOptions = {}) {}

  open(opts: UdpDatagramOptions): Promise<UdpDatagramSocket> {
    this.opened.push(opts);
    return new Promise((resolve) => resolve(this.bind(opts)));
  }

  private bind(opts: UdpDatagramOptions): FakeUdpDatagramSocket {
    const address = `${opts.host}:${opts.port}`;
    const injected = this.openErrors.shift();
    if (injected !== undefined) throw fakeError('bind', injected.code, address, injected.hint);
    if (isIP(opts.host) === 0) throw fakeError('inet_pton', 'EINVAL', address, 'not an IPv4 or IPv6 address literal');
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) throw fakeError('bind', 'EINVAL', address, 'no such port');
    let port = opts.port;
    if (port === 0) {
      while (this.live.has(this.nextPort)) this.nextPort++;
      port = this.nextPort++;
    } else if (this.live.has(port)) {
      throw fakeError('bind', 'EADDRINUSE', address, 'another socket is bound to this port');
    }
    const socket = new FakeUdpDatagramSocket(opts.host, port, opts, this);
    this.live.set(port, socket);
    return socket;
  }

  /** The next `open` fails with this errno code (e.g. `EACCES`), as the real bind would. */
  failNextOpen(code: string, hint = 'injected'): void {
    this.openErrors.push({ code, hint });
  }

  /** The open socket bound to `port`, if any. */
  socket(port: number): FakeUdpDatagramSocket | undefined {
    return this.live.get(port);
  }

  /**
   * Sends datagrams to `port` from `from`: queued while the receive buffer has room, then dropped and
   * counted by the receiver. Nothing bound there: they are lost, as UDP loses them. Returns how many were queued.
   */
  send(port: number, datagrams: readonly Uint8Array[], from: FakeUdpSender = DEFAULT_SENDER): number {
    return this.live.get(port)?.enqueue(datagrams, from) ?? 0;
  }

  /** Called by a socket as it closes: its port is free again. */
  release(socket: FakeUdpDatagramSocket): void {
    if (this.live.get(socket.port) === socket) this.live.delete(socket.port);
  }
}
